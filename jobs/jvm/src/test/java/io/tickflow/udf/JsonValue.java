package io.tickflow.udf;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A JSON value as the structural fuzzer builds it: what it means (for the expected classification) and
 * how it is written (escapes and whitespace chosen by the generator, so one meaning has many texts).
 */
sealed interface JsonValue {

    /** The value as JSON text. */
    String text();

    /** Containers above and including this value: a scalar is 0 deep, {@code []} is 1. */
    default int depth() {
        return 0;
    }

    record Null() implements JsonValue {
        public String text() {
            return "null";
        }
    }

    record Bool(boolean value) implements JsonValue {
        public String text() {
            return Boolean.toString(value);
        }
    }

    /** A number literal in valid JSON syntax, written as given. */
    record Num(String text) implements JsonValue {

        boolean isInteger() {
            return text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0;
        }

        /** Digits in the literal (integer, fraction and exponent), what Jackson's number-length limit counts. */
        int digits() {
            int n = 0;
            for (int i = 0; i < text.length(); i++) {
                n += Character.isDigit(text.charAt(i)) ? 1 : 0;
            }
            return n;
        }
    }

    /** A string: its decoded value and its JSON literal. */
    record Str(String value, String text) implements JsonValue {

        /** The shortest literal of a value: only what JSON requires is escaped (lone surrogates included,
         *  since UTF-8 cannot carry them). */
        static Str plain(String value) {
            return new Str(value, JsonValue.quote(value, 0));
        }
    }

    record Arr(List<JsonValue> items, String ws) implements JsonValue {
        public String text() {
            return "[" + ws + items.stream().map(JsonValue::text).collect(Collectors.joining(ws + "," + ws)) + ws + "]";
        }

        public int depth() {
            return 1 + items.stream().mapToInt(JsonValue::depth).max().orElse(0);
        }
    }

    record Member(Str name, JsonValue value) {
    }

    record Obj(List<Member> members, String ws) implements JsonValue {
        public String text() {
            return "{" + ws + members.stream().map(m -> m.name().text() + ws + ":" + ws + m.value().text())
                    .collect(Collectors.joining(ws + "," + ws)) + ws + "}";
        }

        public int depth() {
            return 1 + members.stream().mapToInt(m -> m.value().depth()).max().orElse(0);
        }
    }

    /**
     * A JSON string literal of {@code value}. {@code escapeBits} picks, character by character (bit i mod
     * 64), which characters that may stand raw are written as {@code \\uXXXX} instead.
     */
    static String quote(String value, long escapeBits) {
        StringBuilder b = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < value.length()
                    && Character.isLowSurrogate(value.charAt(i + 1));
            boolean escape = ((escapeBits >>> (i & 63)) & 1) != 0;
            if (pair) {
                if (escape) {
                    unicode(b, c);
                    unicode(b, value.charAt(i + 1));
                } else {
                    b.append(c).append(value.charAt(i + 1));
                }
                i++;
            } else if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || Character.isSurrogate(c) || escape) {
                switch (c) {
                    case '\n' -> b.append(escape ? "\\u000a" : "\\n");
                    case '\t' -> b.append(escape ? "\\u0009" : "\\t");
                    default -> unicode(b, c);
                }
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static void unicode(StringBuilder b, char c) {
        b.append("\\u");
        for (int shift = 12; shift >= 0; shift -= 4) {
            b.append(Character.forDigit((c >> shift) & 0xf, 16));
        }
    }
}
