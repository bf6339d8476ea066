package io.tickflow.indicators;

import com.fasterxml.jackson.core.io.schubfach.DoubleToDecimal;

/**
 * JSON text as Python's {@code json.dumps(value, separators=(",", ":"))} writes it, so that the JVM job's
 * records are byte for byte the Python reference's: strings with {@code ensure_ascii} escaping, floats as
 * {@code repr(float)} (the shortest digits that round-trip, fixed notation for decimal exponents -4..16,
 * else {@code 1.5e-05} / {@code 1e+16}).
 */
public final class PyJson {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private PyJson() {
    }

    /** A JSON string literal as Python's json module writes it (ensure_ascii=True). */
    public static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append("\\u").append(HEX[c >> 12 & 0xf]).append(HEX[c >> 8 & 0xf])
                                .append(HEX[c >> 4 & 0xf]).append(HEX[c & 0xf]);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** A double as Python's {@code repr} (and so {@code json.dumps}) writes it; NaN as {@code null}. */
    public static void number(StringBuilder out, double v) {
        if (Double.isNaN(v)) {
            out.append("null");
        } else {
            out.append(repr(v));
        }
    }

    /** One digit instead of two when a one-digit decimal (the lower or the upper) reads back as {@code v}. */
    private static void shortestOfTwo(StringBuilder digits, int decpt, double v) {
        int first = digits.charAt(0) - '0';
        double abs = Math.abs(v);
        java.math.BigDecimal exact = new java.math.BigDecimal(abs);
        java.math.BigDecimal best = null;
        int bestDigit = -1;
        for (int d = first; d <= first + 1; d++) {
            java.math.BigDecimal candidate = java.math.BigDecimal.valueOf(d).scaleByPowerOfTen(decpt - 1);
            if (candidate.doubleValue() == abs) {
                java.math.BigDecimal distance = candidate.subtract(exact).abs();
                if (best == null || distance.compareTo(best) < 0) {
                    best = distance;
                    bestDigit = d;
                }
            }
        }
        if (bestDigit >= 0) {
            digits.setLength(1);
            digits.setCharAt(0, (char) ('0' + bestDigit));
        }
    }

    /** Python's {@code repr(v)} of a float. */
    public static String repr(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "Infinity" : "-Infinity";
        }
        // the shortest decimal that rounds to v (Schubfach, as JDK 19's Double.toString), in Java's notation
        String java = DoubleToDecimal.toString(v);
        boolean negative = java.charAt(0) == '-';
        int e = java.indexOf('E');
        String mantissa = java.substring(negative ? 1 : 0, e < 0 ? java.length() : e);
        int exponent = e < 0 ? 0 : Integer.parseInt(java.substring(e + 1));
        int point = mantissa.indexOf('.');
        StringBuilder digits = new StringBuilder(mantissa.length());
        digits.append(mantissa, 0, point).append(mantissa, point + 1, mantissa.length());
        int decpt = point + exponent;             // v = 0.digits × 10^decpt
        int lead = 0;
        while (lead < digits.length() && digits.charAt(lead) == '0') {
            lead++;
        }
        digits.delete(0, lead);
        decpt -= lead;
        int end = digits.length();
        while (end > 0 && digits.charAt(end - 1) == '0') {
            end--;
        }
        digits.setLength(end);
        if (digits.length() == 2 && Math.abs(v) < Double.MIN_NORMAL) {
            // Java keeps two digits where one would do (4.9E-324); Python takes the shortest (5e-324)
            shortestOfTwo(digits, decpt, v);
            if (digits.length() == 1 && digits.charAt(0) == ':') {   // 9 rounded up: 10 at the next power
                digits.setCharAt(0, '1');
                decpt++;
            }
        }
        StringBuilder out = new StringBuilder(24);
        if (negative) {
            out.append('-');
        }
        if (digits.length() == 0) {
            return out.append("0.0").toString();
        }
        int n = digits.length();
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) {
                out.append("0.");
                for (int i = 0; i < -decpt; i++) {
                    out.append('0');
                }
                out.append(digits);
            } else if (decpt >= n) {
                out.append(digits);
                for (int i = n; i < decpt; i++) {
                    out.append('0');
                }
                out.append(".0");
            } else {
                out.append(digits, 0, decpt).append('.').append(digits, decpt, n);
            }
        } else {
            out.append(digits.charAt(0));
            if (n > 1) {
                out.append('.').append(digits, 1, n);
            }
            int x = decpt - 1;
            out.append('e').append(x < 0 ? '-' : '+');
            int abs = Math.abs(x);
            if (abs < 10) {
                out.append('0');
            }
            out.append(abs);
        }
        return out.toString();
    }
}
