package io.tickflow.udf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Structural validation of one canonical raw record (schemas/raw_*.schema.json, v1) in a single streaming
 * JSON pass. Total: any bytes give typed values or a reason code with a short detail, in time and memory
 * bounded by the record's size, and no exception escapes. The first structural problem decides:
 * MALFORMED (not a JSON object, not UTF-8, truncated, duplicate keys, trailing bytes, nesting too deep, a
 * number or name too long, a record over 1 MiB), else BAD_TYPE (a field of the wrong JSON type, a decimal
 * that is not DECIMAL(18,9) text, a string out of its length bounds or holding a character a sink cannot
 * store, an unexpected field or contract version), else MISSING_FIELD (a required field absent or null).
 * Business rules (positive prices, crossed quotes, ...) are not checked here: they are data in
 * jobs/market_rules.yaml, compiled into SQL.
 */
final class RawRecordParser {

    /** Raw topics carry at most 1 MiB per record; a longer one is refused before it is parsed. */
    static final int MAX_RECORD_BYTES = 1 << 20;
    /** A record is two deep (the object, the conditions array); the rest leaves room for nested values in
     *  a wrong field to be reported as BAD_TYPE. */
    static final int MAX_NESTING_DEPTH = 8;
    /** Digits in one number token. A LONG field has at most 19, so a longer integer up to this length is
     *  BAD_TYPE (out of range) and anything past it an absurd token. */
    static final int MAX_NUMBER_LENGTH = 100;
    /** Characters in one field name; the contract's longest is 10. */
    static final int MAX_NAME_LENGTH = 256;

    static final String MALFORMED = "MALFORMED";
    static final String MISSING_FIELD = "MISSING_FIELD";
    static final String BAD_TYPE = "BAD_TYPE";
    /** Detail prefix of a record that broke the parser itself: a bug, classified rather than thrown. */
    static final String PARSER_ERROR = "parser error: ";

    enum Kind { VERSION, STRING, LONG, DECIMAL, STRING_ARRAY }

    static final class Field {
        final String name;
        final Kind kind;
        final boolean required;
        final int maxLength;
        final int index;

        Field(String name, Kind kind, boolean required, int maxLength, int index) {
            this.name = name;
            this.kind = kind;
            this.required = required;
            this.maxLength = maxLength;
            this.index = index;
        }
    }

    /** Outcome of a parse: values by field index (a STRING_ARRAY as a String[]), or a reason and a detail. */
    static final class Result {
        final Object[] values;
        String reason;
        String detail;

        Result(int n) {
            values = new Object[n];
        }

        Result fail(String reason, String detail) {
            this.reason = reason;
            this.detail = detail;
            return this;
        }
    }

    /**
     * Strings get no limit of their own (the record's size bounds them): Jackson checks a string's length
     * only when it decodes it, and it does not decode the values it skips, so a string limit would give a
     * huge string a different reason in a known field than in an unknown one. Names are not interned: a
     * stream of invented field names must not grow the JVM's string table.
     */
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxDocumentLength(MAX_RECORD_BYTES)
                    .maxNestingDepth(MAX_NESTING_DEPTH)
                    .maxNumberLength(MAX_NUMBER_LENGTH)
                    .maxNameLength(MAX_NAME_LENGTH)
                    .maxStringLength(MAX_RECORD_BYTES)
                    .build())
            .build();
    private static final String[] NO_STRINGS = new String[0];
    private static final String INTEGER_CONDITIONS = " (integer condition codes are the provider's: the connector "
            + "turns them into strings)";

    private final Field[] fields;
    private final Map<String, Field> byName = new HashMap<>();

    RawRecordParser(Field... fields) {
        this.fields = fields;
        for (Field f : fields) {
            byName.put(f.name, f);
        }
    }

    int size() {
        return fields.length;
    }

    Field[] fields() {
        return fields.clone();
    }

    Result parse(byte[] raw) {
        Result r = new Result(fields.length);
        try {
            return classify(raw, r);
        } catch (StreamConstraintsException e) {
            return r.fail(MALFORMED, "over a limit: " + limitMessage(e.getOriginalMessage()));
        } catch (JsonEOFException e) {
            return r.fail(MALFORMED, "truncated: the input ends inside the JSON object");
        } catch (JsonProcessingException e) {
            return r.fail(MALFORMED, "not JSON: " + clip(e.getOriginalMessage(), MESSAGE_CLIP));
        } catch (IOException e) {
            return r.fail(MALFORMED, "unreadable: " + clip(e.getMessage(), MESSAGE_CLIP));
        } catch (RuntimeException e) {
            // a bug of this parser: the record still goes to md.dlq with its bytes instead of failing the task
            return r.fail(MALFORMED, PARSER_ERROR + clip(e.toString(), MESSAGE_CLIP));
        }
    }

    private Result classify(byte[] raw, Result r) throws IOException {
        if (raw == null || raw.length == 0) {
            return r.fail(MALFORMED, "empty record");
        }
        if (raw.length > MAX_RECORD_BYTES) {
            return r.fail(MALFORMED, "record of " + raw.length + " bytes, over the limit of " + MAX_RECORD_BYTES);
        }
        int invalid = Utf8.firstInvalid(raw);
        if (invalid >= 0) {
            return r.fail(MALFORMED, raw[invalid] == 0 ? "NUL byte at offset " + invalid : "not UTF-8 at offset " + invalid);
        }
        boolean[] seen = new boolean[fields.length];
        try (JsonParser p = FACTORY.createParser(raw)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return r.fail(MALFORMED, "not a JSON object");
            }
            for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
                if (t != JsonToken.FIELD_NAME) {
                    // Jackson reports the end of input inside an object itself; this stops the loop regardless
                    return r.fail(MALFORMED, "truncated: the input ends inside the JSON object");
                }
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (value == null) {
                    return r.fail(MALFORMED, "truncated: the input ends inside the JSON object");
                }
                Field f = byName.get(name);
                if (f == null) {
                    // read on to the end: a truncated record is MALFORMED, not an unexpected field
                    p.skipChildren();
                    badType(r, "unexpected field '" + clip(name) + "'");
                    continue;
                }
                seen[f.index] = true;
                if (value != JsonToken.VALUE_NULL) {
                    badType(r, read(p, value, f, r.values));
                }
            }
            if (p.nextToken() != null) {
                return r.fail(MALFORMED, "bytes after the JSON object");
            }
        }
        if (r.reason != null) {
            return r;
        }
        for (Field f : fields) {
            if (f.required && r.values[f.index] == null) {
                return r.fail(MISSING_FIELD, (seen[f.index] ? "null " : "missing ") + f.name);
            }
        }
        return r;
    }

    /** Keeps the first BAD_TYPE problem. */
    private static void badType(Result r, String problem) {
        if (problem != null && r.reason == null) {
            r.fail(BAD_TYPE, problem);
        }
    }

    /**
     * Reads one value of field {@code f} into {@code out}, or returns why it does not fit. Whatever it finds,
     * it leaves the parser on the last token of the value (an array or object is skipped whole), so the
     * field loop stays in step.
     */
    private static String read(JsonParser p, JsonToken t, Field f, Object[] out) throws IOException {
        if (t == JsonToken.START_ARRAY && f.kind == Kind.STRING_ARRAY) {
            return readStrings(p, f, out);
        }
        if (t.isStructStart()) {
            p.skipChildren();
            return f.name + " must be " + expected(f.kind) + ", got " + (t == JsonToken.START_ARRAY ? "an array" : "an object");
        }
        switch (f.kind) {
            case VERSION:
                if (t == JsonToken.VALUE_NUMBER_INT && p.getTextLength() == 1 && p.getIntValue() == 1) {
                    out[f.index] = 1;
                    return null;
                }
                return "unsupported contract version " + shown(p, t) + " (this job reads v=1)";
            case STRING:
                if (t != JsonToken.VALUE_STRING) {
                    return f.name + " must be a string, got " + shown(p, t);
                }
                String s = p.getText();
                if (s.isEmpty() || s.length() > f.maxLength) {
                    return f.name + " must have 1 to " + f.maxLength + " characters, got " + s.length();
                }
                String unstorable = unstorable(f.name, s);
                if (unstorable != null) {
                    return unstorable;
                }
                out[f.index] = s;
                return null;
            case LONG:
                if (t != JsonToken.VALUE_NUMBER_INT) {
                    return f.name + " must be an integer, got " + shown(p, t);
                }
                // a sign and 19 digits at most: no BigInteger is built for a longer token
                JsonParser.NumberType nt = p.getTextLength() > 20 ? JsonParser.NumberType.BIG_INTEGER : p.getNumberType();
                if (nt != JsonParser.NumberType.INT && nt != JsonParser.NumberType.LONG) {
                    return f.name + " is out of range: " + shown(p, t);
                }
                long v = p.getLongValue();
                if (v < 0) {
                    return f.name + " must not be negative, got " + v;
                }
                out[f.index] = v;
                return null;
            case DECIMAL:
                if (t != JsonToken.VALUE_STRING) {
                    return f.name + " must be a decimal string, got " + shown(p, t);
                }
                BigDecimal d = decimal(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
                if (d == null) {
                    return f.name + " " + shown(p, t) + " is not a DECIMAL(18,9)";
                }
                out[f.index] = d;
                return null;
            case STRING_ARRAY:
                return f.name + " must be an array of strings, got " + shown(p, t);
            default:
                throw new IllegalStateException(f.kind.name());
        }
    }

    /** Reads an array of strings to its end, keeping the first problem. */
    private static String readStrings(JsonParser p, Field f, Object[] out) throws IOException {
        List<String> items = null;
        String problem = null;
        int i = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken(), i++) {
            if (t == null) {
                throw new JsonEOFException(p, null, "end of input inside " + f.name);
            }
            if (problem != null) {
                p.skipChildren();
            } else if (t != JsonToken.VALUE_STRING) {
                problem = f.name + " must be an array of strings, got " + what(t) + " at index " + i
                        + (t == JsonToken.VALUE_NUMBER_INT ? INTEGER_CONDITIONS : "");
                p.skipChildren();
            } else {
                String s = p.getText();
                problem = unstorable(f.name + "[" + i + "]", s);
                if (items == null) {
                    items = new ArrayList<>(4);
                }
                items.add(s);
            }
        }
        if (problem == null) {
            out[f.index] = items == null ? NO_STRINGS : items.toArray(NO_STRINGS);
        }
        return problem;
    }

    /**
     * Why a sink cannot store {@code s}, or null: PostgreSQL text holds no NUL and no lone surrogate, and
     * no other C0 control character or DEL belongs in a symbol, venue, id or condition code.
     */
    static String unstorable(String field, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return field + " contains a control character (" + codePoint(c) + ")";
            }
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return field + " contains a lone surrogate (" + codePoint(c) + ")";
                }
            }
        }
        return null;
    }

    private static final long[] SCALE_UP = {
        1L, 10L, 100L, 1_000L, 10_000L, 100_000L, 1_000_000L, 10_000_000L, 100_000_000L, 1_000_000_000L};

    /**
     * The value of DECIMAL(18,9) text {@code -?[0-9]{1,9}(\.[0-9]{1,9})?} at scale 9, or null for any other
     * text. At most 18 digits, so the unscaled value fits a long and no BigInteger is built.
     */
    static BigDecimal decimal(char[] buf, int off, int len) {
        int i = off;
        int end = off + len;
        boolean negative = i < end && buf[i] == '-';
        if (negative) {
            i++;
        }
        long unscaled = 0;
        int intDigits = 0;
        while (i < end && buf[i] >= '0' && buf[i] <= '9') {
            unscaled = unscaled * 10 + (buf[i++] - '0');
            intDigits++;
        }
        if (intDigits < 1 || intDigits > 9) {
            return null;
        }
        int fracDigits = 0;
        if (i < end && buf[i] == '.') {
            i++;
            while (i < end && buf[i] >= '0' && buf[i] <= '9') {
                unscaled = unscaled * 10 + (buf[i++] - '0');
                fracDigits++;
            }
            if (fracDigits < 1 || fracDigits > 9) {
                return null;
            }
        }
        if (i != end) {
            return null;
        }
        unscaled *= SCALE_UP[9 - fracDigits];
        return BigDecimal.valueOf(negative ? -unscaled : unscaled, 9);
    }

    private static String expected(Kind kind) {
        switch (kind) {
            case VERSION: return "the contract version 1";
            case STRING: return "a string";
            case LONG: return "an integer";
            case DECIMAL: return "a decimal string";
            default: return "an array of strings";
        }
    }

    private static String what(JsonToken t) {
        switch (t) {
            case VALUE_STRING: return "a string";
            case VALUE_NUMBER_INT: case VALUE_NUMBER_FLOAT: return "a number";
            case VALUE_TRUE: case VALUE_FALSE: return "a boolean";
            case VALUE_NULL: return "null";
            case START_ARRAY: return "an array";
            case START_OBJECT: return "an object";
            default: return t.name();
        }
    }

    /** A scalar as a detail shows it: a string quoted, anything else as written; clipped either way. */
    private static String shown(JsonParser p, JsonToken t) throws IOException {
        if (!t.isScalarValue()) {
            return what(t);
        }
        int len = p.getTextLength();
        String text = clip(new String(p.getTextCharacters(), p.getTextOffset(), Math.min(len, CLIP + 1)));
        return t == JsonToken.VALUE_STRING ? "'" + text + "'" : text;
    }

    /** Characters of a value, and of a message of Jackson's, that a detail shows. */
    private static final int CLIP = 60;
    private static final int MESSAGE_CLIP = 120;

    static String clip(String s) {
        return clip(s, CLIP);
    }

    /**
     * Text safe to put in a detail: at most {@code max} characters, control characters and lone surrogates
     * written as U+XXXX (a detail ends up in md.dlq and in PostgreSQL too).
     */
    static String clip(String s, int max) {
        if (s == null) {
            return "";
        }
        int n = Math.min(s.length(), max);
        if (n < s.length() && Character.isHighSurrogate(s.charAt(n - 1))) {
            n--;
        }
        StringBuilder b = null;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
            boolean bad = c < 0x20 || c == 0x7f || (Character.isSurrogate(c) && !pair);
            if (bad && b == null) {
                b = new StringBuilder(n + 16).append(s, 0, i);
            }
            if (b != null) {
                if (bad) {
                    b.append(codePoint(c));
                } else {
                    b.append(c);
                }
            }
            if (pair) {
                i++;
                if (b != null) {
                    b.append(s.charAt(i));
                }
            }
        }
        String out = b == null ? s.substring(0, n) : b.toString();
        return n < s.length() ? out + "…" : out;
    }

    /** Jackson's limit message without the name of the setting it comes from. */
    private static String limitMessage(String m) {
        int from = m == null ? -1 : m.indexOf(", from `");
        return clip(from < 0 ? m : m.substring(0, from) + ")", MESSAGE_CLIP);
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private static String codePoint(char c) {
        return new String(new char[] {'U', '+', HEX[c >> 12], HEX[(c >> 8) & 0xf], HEX[(c >> 4) & 0xf], HEX[c & 0xf]});
    }

    /** A one-entry cache: the last bytes parsed by which parser, and the result. A repeated call on the
     *  same bytes costs an array comparison, not a parse. */
    static final class LastCall {
        RawRecordParser parser;
        byte[] input;
        Object output;

        Object lookup(RawRecordParser p, byte[] raw) {
            return parser == p && input != null && Arrays.equals(input, raw) ? output : null;
        }

        void store(RawRecordParser p, byte[] raw, Object out) {
            parser = p;
            input = raw == null ? null : raw.clone();
            output = out;
        }
    }
}
