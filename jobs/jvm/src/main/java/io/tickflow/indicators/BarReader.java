package io.tickflow.indicators;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Reads an md.bars record for the indicators, or refuses it with a reason: the JVM twin of
 * jobs/indicator_series.py's {@code read_bar} / {@code bar_from_record}, deciding as it decides.
 *
 * <ul>
 *   <li>{@code MALFORMED}: no value, not JSON (Python's json module's grammar: {@code NaN} and
 *       {@code Infinity} are read, as numbers no bar field accepts; an integer of more than 4,300 digits is
 *       not), not an object, or not a bar of the record key's series;</li>
 *   <li>{@code BAD_TYPE}: a field missing, a price or volume that is neither decimal text
 *       ({@code -?[0-9]{1,40}(\.[0-9]{1,40})?}) nor a JSON number, or not below 1e18 in magnitude (its
 *       exponent beyond ±2^31 included, and a JSON number with a fraction or exponent longer than 20,000
 *       characters, which Python's Decimal would read); a bucket start, end or revision that is not a JSON integer from 0
 *       to 2^63-1; an end not after the start;</li>
 *   <li>{@code OHLC_VIOLATION}: open or close outside [low, high], a negative volume (exact decimals).</li>
 * </ul>
 * The bytes are decoded as Python decodes them ({@link PyText}); the parse walks the tokens once, checking
 * what it does not read, and always ends (Jackson's limits on depth).
 */
public final class BarReader {
    /** The trading day (start, ns) of a symbol's bar starting at {@code bucketStart}. */
    @FunctionalInterface
    public interface DayOf {
        long dayOf(String symbol, long bucketStart);
    }

    /** A bar that was read, with the series it belongs to. */
    public static final class Read {
        public final String symbol;
        public final String timeframe;
        public final IncomingBar bar;

        Read(String symbol, String timeframe, IncomingBar bar) {
            this.symbol = symbol;
            this.timeframe = timeframe;
            this.bar = bar;
        }
    }

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNumberLength(Integer.MAX_VALUE)
                    .maxNestingDepth(1000)
                    .build())
            .build();
    /** Python's int() refuses longer digit strings (sys.int_info.default_max_str_digits). */
    private static final int MAX_INT_DIGITS = 4300;
    /** A price or volume written as a JSON number with a fraction or exponent: at most this long. */
    private static final int MAX_FLOAT_CHARS = 20_000;
    private static final String[] NUMBERS = {"open", "high", "low", "close", "volume", "vwap"};
    private static final String[] INTEGERS = {"bucket_start", "bucket_end", "revision"};

    private BarReader() {
    }

    /** One top-level field's value as far as the reader needs it. */
    private static final class Value {
        JsonToken token;
        String text;        // strings and numbers
    }

    /**
     * An md.bars message of the series {@code key} ({@code symbol|timeframe}, "?" for an unreadable
     * record key) → the bar.
     */
    public static Read read(byte[] payload, String key, DayOf days) throws Refused {
        if (payload == null) {
            throw new Refused("MALFORMED", "the record has no value");
        }
        Value[] fields = new Value[2 + NUMBERS.length + INTEGERS.length];
        boolean object = parse(payload, fields);
        Value symbol = fields[0];
        Value timeframe = fields[1];
        String series = key.length() > 80 ? key.substring(0, key.offsetByCodePoints(0, Math.min(80,
                key.codePointCount(0, key.length())))) : key;
        if (!object || key.equals("?") || symbol == null || timeframe == null
                || symbol.token != JsonToken.VALUE_STRING || timeframe.token != JsonToken.VALUE_STRING
                || !(symbol.text + "|" + timeframe.text).equals(key)) {
            throw new Refused("MALFORMED", "not a bar record of series " + series);
        }
        return new Read(symbol.text, timeframe.text, bar(fields, symbol.text, timeframe.text, days));
    }

    /** Fills {@code fields} (symbol, timeframe, NUMBERS, INTEGERS; last occurrence wins); false: not an object. */
    private static boolean parse(byte[] payload, Value[] fields) throws Refused {
        String text = PyText.decode(payload);
        if (text == null) {
            throw new Refused("MALFORMED", "not JSON: the bytes are not UTF-8 (or UTF-16/32 with a BOM)");
        }
        if (text.startsWith("\ufeff")) {
            throw new Refused("MALFORMED", "not JSON: a second byte order mark");
        }
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw new Refused("MALFORMED", "not JSON: no value");
            }
            boolean object = first == JsonToken.START_OBJECT;
            if (object) {
                JsonToken t;
                while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                    int slot = slot(p.currentName());
                    JsonToken v = p.nextToken();
                    checkNumber(p, v);
                    if (slot >= 0) {
                        Value value = new Value();
                        value.token = v;
                        value.text = v == JsonToken.VALUE_STRING || v == JsonToken.VALUE_NUMBER_INT
                                || v == JsonToken.VALUE_NUMBER_FLOAT ? p.getText() : null;
                        fields[slot] = value;
                    }
                    if (v == JsonToken.START_OBJECT || v == JsonToken.START_ARRAY) {
                        skip(p);
                    }
                }
                if (t != JsonToken.END_OBJECT) {
                    throw new Refused("MALFORMED", "not JSON: unexpected " + t);
                }
            } else if (first == JsonToken.START_ARRAY) {
                skip(p);
            } else {
                checkNumber(p, first);
            }
            if (p.nextToken() != null) {
                throw new Refused("MALFORMED", "not JSON: extra data");
            }
            return object;
        } catch (IOException e) {
            String message = String.valueOf(e.getMessage());
            int nl = message.indexOf('\n');
            String detail = "not JSON: " + (nl < 0 ? message : message.substring(0, nl));
            throw new Refused("MALFORMED", detail.length() > 300 ? detail.substring(0, 300) : detail);
        }
    }

    /** Past the matching end of the object or array just opened, checking every number on the way. */
    private static void skip(JsonParser p) throws IOException, Refused {
        int depth = 1;
        while (depth > 0) {
            JsonToken t = p.nextToken();
            if (t == null) {
                throw new Refused("MALFORMED", "not JSON: unexpected end of data");
            }
            if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                depth++;
            } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                depth--;
            } else {
                checkNumber(p, t);
            }
        }
    }

    /** What Python's json module refuses among what Jackson reads: other non-numeric numbers, huge ints. */
    private static void checkNumber(JsonParser p, JsonToken t) throws IOException, Refused {
        if (t == JsonToken.VALUE_NUMBER_FLOAT && p.isNaN()) {
            String text = p.getText();
            if (!text.equals("NaN") && !text.equals("Infinity") && !text.equals("-Infinity")) {
                throw new Refused("MALFORMED", "not JSON: " + text.substring(0, Math.min(text.length(), 40)));
            }
        } else if (t == JsonToken.VALUE_NUMBER_INT && p.getTextLength() > MAX_INT_DIGITS) {
            String text = p.getText();
            if (text.length() - (text.startsWith("-") ? 1 : 0) > MAX_INT_DIGITS) {
                throw new Refused("MALFORMED", "not JSON: an integer of more than " + MAX_INT_DIGITS + " digits");
            }
        }
    }

    private static int slot(String name) {
        switch (name) {
            case "symbol": return 0;
            case "timeframe": return 1;
            case "open": return 2;
            case "high": return 3;
            case "low": return 4;
            case "close": return 5;
            case "volume": return 6;
            case "vwap": return 7;
            case "bucket_start": return 8;
            case "bucket_end": return 9;
            case "revision": return 10;
            default: return -1;
        }
    }

    private static IncomingBar bar(Value[] fields, String symbol, String timeframe, DayOf days) throws Refused {
        BigDecimal[] exact = new BigDecimal[NUMBERS.length];
        double[] floats = new double[NUMBERS.length];
        for (int i = 0; i < NUMBERS.length; i++) {
            Value v = fields[2 + i];
            if (v == null) {
                throw new Refused("BAD_TYPE", "bar field missing: '" + NUMBERS[i] + "'");
            }
            number(v, NUMBERS[i], exact, floats, i);
        }
        long[] ints = new long[INTEGERS.length];
        for (int i = 0; i < INTEGERS.length; i++) {
            Value v = fields[2 + NUMBERS.length + i];
            if (v == null) {
                throw new Refused("BAD_TYPE", "bar field missing: '" + INTEGERS[i] + "'");
            }
            ints[i] = integer(v, INTEGERS[i]);
        }
        BigDecimal o = exact[0];
        BigDecimal h = exact[1];
        BigDecimal l = exact[2];
        BigDecimal c = exact[3];
        BigDecimal lowOc = c.compareTo(o) < 0 ? c : o;
        BigDecimal highOc = c.compareTo(o) > 0 ? c : o;
        if (!(l.compareTo(lowOc) <= 0 && highOc.compareTo(h) <= 0)) {
            throw new Refused("OHLC_VIOLATION", "open " + o + " / close " + c + " outside [low " + l + ", high " + h
                    + "]");
        }
        if (exact[4].signum() < 0) {
            throw new Refused("OHLC_VIOLATION", "negative volume " + exact[4]);
        }
        long start = ints[0];
        long end = ints[1];
        if (end <= start) {
            throw new Refused("BAD_TYPE", "bucket [" + start + ", " + end + ") impossible");
        }
        long day = timeframe.equals("1d") ? start : days.dayOf(symbol, start);
        return new IncomingBar(start, end, ints[2],
                new BarPoint(floats[1], floats[2], floats[3], floats[4], floats[5], day));
    }

    /** A price or volume: decimal text, or a JSON number, below 1e18 in magnitude. */
    private static void number(Value v, String what, BigDecimal[] exact, double[] floats, int i) throws Refused {
        BigDecimal d;
        if (v.token == JsonToken.VALUE_STRING) {
            if (!isDecimalText(v.text)) {
                String shown = v.text.length() > 40 ? v.text.substring(0, 40) : v.text;
                throw new Refused("BAD_TYPE", what + " '" + shown + "' is not decimal text");
            }
            d = new BigDecimal(v.text);
            floats[i] = Double.parseDouble(v.text);
        } else if (v.token == JsonToken.VALUE_NUMBER_INT) {
            BigInteger n = new BigInteger(v.text);
            d = new BigDecimal(n);
            floats[i] = n.doubleValue();
        } else if (v.token == JsonToken.VALUE_NUMBER_FLOAT && !isNonNumeric(v.text)) {
            if (v.text.length() > MAX_FLOAT_CHARS) {
                // BigDecimal's parse is quadratic in the digits: a bound keeps every record quick
                throw new Refused("BAD_TYPE", what + " is a number of more than " + MAX_FLOAT_CHARS + " characters");
            }
            try {
                d = new BigDecimal(v.text);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new Refused("BAD_TYPE", what + " " + v.text.substring(0, Math.min(40, v.text.length()))
                        + " has an exponent beyond the decimal range");
            }
            floats[i] = Double.parseDouble(v.text);
        } else {
            throw new Refused("BAD_TYPE", what + " is not a number but " + pythonType(v));
        }
        if (d.signum() != 0 && d.precision() - d.scale() - 1 >= 18) {
            throw new Refused("BAD_TYPE", what + " " + String.format("%.3e", d) + " is not a finite number below 1e18");
        }
        exact[i] = d;
    }

    /** {@code -?[0-9]{1,40}(\.[0-9]{1,40})?}, the decimal text md.bars writes (ASCII digits only). */
    static boolean isDecimalText(String t) {
        int i = t.startsWith("-") ? 1 : 0;
        int digits = 0;
        while (i < t.length() && t.charAt(i) >= '0' && t.charAt(i) <= '9') {
            i++;
            digits++;
        }
        if (digits < 1 || digits > 40) {
            return false;
        }
        if (i == t.length()) {
            return true;
        }
        if (t.charAt(i) != '.') {
            return false;
        }
        i++;
        int fraction = 0;
        while (i < t.length() && t.charAt(i) >= '0' && t.charAt(i) <= '9') {
            i++;
            fraction++;
        }
        return i == t.length() && fraction >= 1 && fraction <= 40;
    }

    private static boolean isNonNumeric(String text) {
        return text.equals("NaN") || text.equals("Infinity") || text.equals("-Infinity");
    }

    private static String pythonType(Value v) {
        switch (v.token) {
            case VALUE_NULL: return "NoneType";
            case VALUE_TRUE:
            case VALUE_FALSE: return "bool";
            case START_ARRAY: return "list";
            case START_OBJECT: return "dict";
            case VALUE_NUMBER_FLOAT: return "float";
            case VALUE_NUMBER_INT: return "int";
            default: return "str";
        }
    }

    private static long integer(Value v, String what) throws Refused {
        if (v.token == JsonToken.VALUE_NUMBER_INT && v.text.length() <= 18) {
            long n = Long.parseLong(v.text);    // at most 18 digits: no overflow; "-0" is 0, as in Python
            if (n >= 0) {
                return n;
            }
        } else if (v.token == JsonToken.VALUE_NUMBER_INT) {
            BigInteger n = new BigInteger(v.text);
            if (n.signum() >= 0 && n.bitLength() < 64) {
                return n.longValue();
            }
        }
        throw new Refused("BAD_TYPE", what + " is not an integer from 0 to 2^63-1");
    }
}
