package io.tickflow.udf;

/**
 * Strict UTF-8 (RFC 3629) for raw records. Jackson's decoder is lenient: it decodes overlong forms (so
 * {@code C0 80} becomes U+0000), UTF-8-encoded surrogates and sequences past U+10FFFF, and it reads bytes
 * with NULs in them as UTF-16 or UTF-32. Checking the bytes first makes all of these MALFORMED.
 */
final class Utf8 {

    private Utf8() {
    }

    /** The offset of the first byte that is not part of well-formed UTF-8, a NUL byte included, or -1. */
    static int firstInvalid(byte[] b) {
        int i = 0;
        int n = b.length;
        while (i < n) {
            int c = b[i];
            if (c > 0) {
                i++;
                continue;
            }
            if (c == 0) {
                return i;
            }
            c &= 0xff;
            int more;
            int lo = 0x80;
            int hi = 0xbf;
            if (c >= 0xc2 && c <= 0xdf) {
                more = 1;
            } else if (c >= 0xe0 && c <= 0xef) {
                more = 2;
                if (c == 0xe0) {
                    lo = 0xa0; // overlong below U+0800
                } else if (c == 0xed) {
                    hi = 0x9f; // U+D800..U+DFFF, surrogates
                }
            } else if (c >= 0xf0 && c <= 0xf4) {
                more = 3;
                if (c == 0xf0) {
                    lo = 0x90; // overlong below U+10000
                } else if (c == 0xf4) {
                    hi = 0x8f; // past U+10FFFF
                }
            } else {
                return i;
            }
            if (i + more >= n) {
                return i;
            }
            int second = b[i + 1] & 0xff;
            if (second < lo || second > hi) {
                return i;
            }
            for (int k = 2; k <= more; k++) {
                if ((b[i + k] & 0xc0) != 0x80) {
                    return i;
                }
            }
            i += more + 1;
        }
        return -1;
    }
}
