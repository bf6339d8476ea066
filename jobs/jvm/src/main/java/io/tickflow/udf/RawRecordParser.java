package io.tickflow.udf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Structural validation of one canonical raw record (schemas/raw_*.schema.json, v1) in a single streaming
 * JSON pass. Produces typed values, or the first structural problem as a reason code:
 * MALFORMED (not a JSON object, bad UTF-8, duplicate keys, trailing bytes), MISSING_FIELD (a required field
 * absent or null), BAD_TYPE (a field of the wrong JSON type, a decimal that is not DECIMAL(18,9) text, a
 * string out of its length bounds, an unexpected field or contract version).
 * Business rules (positive prices, crossed quotes, ...) are not checked here: they are data in
 * jobs/market_rules.yaml, compiled into SQL.
 */
final class RawRecordParser {

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

    /** Outcome of a parse: values by field index, or a reason and a detail. */
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

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final Pattern DECIMAL = Pattern.compile("-?[0-9]{1,9}(\\.[0-9]{1,9})?");

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

    Result parse(byte[] raw) {
        Result r = new Result(fields.length);
        if (raw == null || raw.length == 0) {
            return r.fail("MALFORMED", "empty record");
        }
        boolean[] seen = new boolean[fields.length];
        try (JsonParser p = FACTORY.createParser(raw)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return r.fail("MALFORMED", "not a JSON object");
            }
            while (true) {
                JsonToken t = p.nextToken();
                if (t == JsonToken.END_OBJECT) {
                    break;
                }
                String name = p.currentName();
                JsonToken value = p.nextToken();
                Field f = byName.get(name);
                if (f == null) {
                    p.skipChildren();
                    // read to the end first: a truncated record is MALFORMED, not an unexpected field
                    r.fail("BAD_TYPE", "unexpected field '" + clip(name) + "'");
                    continue;
                }
                seen[f.index] = true;
                if (value == JsonToken.VALUE_NULL) {
                    continue;
                }
                String problem = read(p, value, f, r.values);
                if (problem != null && r.reason == null) {
                    r.fail("BAD_TYPE", problem);
                }
            }
            if (p.nextToken() != null) {
                return r.fail("MALFORMED", "bytes after the JSON object");
            }
        } catch (JsonParseException e) {
            return r.fail("MALFORMED", "not JSON: " + clip(e.getOriginalMessage()));
        } catch (IOException e) {
            return r.fail("MALFORMED", "unreadable: " + clip(e.getMessage()));
        }
        if (r.reason != null) {
            return r;
        }
        for (Field f : fields) {
            if (f.required && r.values[f.index] == null) {
                return r.fail("MISSING_FIELD", (seen[f.index] ? "null " : "missing ") + f.name);
            }
        }
        return r;
    }

    private static String read(JsonParser p, JsonToken t, Field f, Object[] out) throws IOException {
        switch (f.kind) {
            case VERSION:
                if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT || p.getIntValue() != 1) {
                    return "unsupported contract version " + clip(p.getText()) + " (this job reads v=1)";
                }
                out[f.index] = 1;
                return null;
            case STRING:
                if (t != JsonToken.VALUE_STRING) {
                    p.skipChildren();
                    return f.name + " must be a string";
                }
                String s = p.getText();
                if (s.isEmpty() || s.length() > f.maxLength) {
                    return f.name + " must have 1 to " + f.maxLength + " characters, got " + s.length();
                }
                out[f.index] = s;
                return null;
            case LONG:
                if (t != JsonToken.VALUE_NUMBER_INT) {
                    p.skipChildren();
                    return f.name + " must be an integer, got " + clip(p.getText());
                }
                JsonParser.NumberType nt = p.getNumberType();
                if (nt != JsonParser.NumberType.INT && nt != JsonParser.NumberType.LONG) {
                    return f.name + " is out of range: " + clip(p.getText());
                }
                long v = p.getLongValue();
                if (v < 0) {
                    return f.name + " must not be negative, got " + v;
                }
                out[f.index] = v;
                return null;
            case DECIMAL:
                if (t != JsonToken.VALUE_STRING) {
                    p.skipChildren();
                    return f.name + " must be a decimal string, got " + clip(p.getText());
                }
                String d = p.getText();
                if (!DECIMAL.matcher(d).matches()) {
                    return f.name + " '" + clip(d) + "' is not a DECIMAL(18,9)";
                }
                out[f.index] = new BigDecimal(d).setScale(9);
                return null;
            case STRING_ARRAY:
                if (t != JsonToken.START_ARRAY) {
                    p.skipChildren();
                    return f.name + " must be an array of strings";
                }
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    if (p.currentToken() != JsonToken.VALUE_STRING) {
                        p.skipChildren();
                        return f.name + " must be an array of strings";
                    }
                }
                return null;
            default:
                throw new IllegalStateException(f.kind.name());
        }
    }

    static String clip(String s) {
        if (s == null) {
            return "";
        }
        return s.length() <= 60 ? s : s.substring(0, 60) + "…";
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
