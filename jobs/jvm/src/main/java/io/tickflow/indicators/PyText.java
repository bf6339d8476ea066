package io.tickflow.indicators;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.charset.CodingErrorAction;

/**
 * A JSON payload's bytes to text as Python's {@code json.loads(bytes)} decodes them: the encoding detected
 * from a BOM or the pattern of zero bytes (UTF-8, -16, -32), UTF-8 decoded strictly except that encoded
 * surrogates pass ({@code surrogatepass}). Null when Python would refuse the bytes.
 */
final class PyText {
    private PyText() {
    }

    static String decode(byte[] b) {
        int n = b.length;
        if (startsWith(b, 0, 0, 0xFE, 0xFF) || startsWith(b, 0xFF, 0xFE, 0, 0)) {
            return charset(b, "UTF-32");
        }
        if (startsWith(b, 0xFE, 0xFF) || startsWith(b, 0xFF, 0xFE)) {
            return charset(b, "UTF-16");
        }
        if (startsWith(b, 0xEF, 0xBB, 0xBF)) {
            return utf8(b, 3);
        }
        if (n >= 4) {
            if (b[0] == 0) {
                return charset(b, b[1] != 0 ? "UTF-16BE" : "UTF-32BE");
            }
            if (b[1] == 0) {
                return charset(b, b[2] != 0 || b[3] != 0 ? "UTF-16LE" : "UTF-32LE");
            }
        } else if (n == 2) {
            if (b[0] == 0) {
                return charset(b, "UTF-16BE");
            }
            if (b[1] == 0) {
                return charset(b, "UTF-16LE");
            }
        }
        return utf8(b, 0);
    }

    private static boolean startsWith(byte[] b, int... prefix) {
        if (b.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if ((b[i] & 0xFF) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static String charset(byte[] b, String name) {
        try {
            return Charset.forName(name).newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Strict UTF-8 (no overlong forms, nothing above U+10FFFF) that lets encoded surrogates through. */
    private static String utf8(byte[] b, int from) {
        int ascii = from;
        while (ascii < b.length && b[ascii] >= 0) {
            ascii++;
        }
        if (ascii == b.length) {        // the usual record: ASCII only
            return new String(b, from, b.length - from, StandardCharsets.ISO_8859_1);
        }
        StringBuilder out = new StringBuilder(b.length - from);
        int i = from;
        while (i < b.length) {
            int c = b[i] & 0xFF;
            if (c < 0x80) {
                out.append((char) c);
                i++;
                continue;
            }
            int need;
            int cp;
            int min;
            if (c >= 0xC2 && c <= 0xDF) {
                need = 1;
                cp = c & 0x1F;
                min = 0x80;
            } else if (c >= 0xE0 && c <= 0xEF) {
                need = 2;
                cp = c & 0x0F;
                min = 0x800;
            } else if (c >= 0xF0 && c <= 0xF4) {
                need = 3;
                cp = c & 0x07;
                min = 0x10000;
            } else {
                return null;
            }
            if (i + need >= b.length) {
                return null;
            }
            for (int k = 1; k <= need; k++) {
                int d = b[i + k] & 0xFF;
                if ((d & 0xC0) != 0x80) {
                    return null;
                }
                cp = cp << 6 | (d & 0x3F);
            }
            if (cp < min || cp > 0x10FFFF) {
                return null;
            }
            out.appendCodePoint(cp);
            i += need + 1;
        }
        return out.toString();
    }
}
