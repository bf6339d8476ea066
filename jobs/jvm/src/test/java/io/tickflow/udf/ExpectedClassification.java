package io.tickflow.udf;

import io.tickflow.udf.JsonValue.Arr;
import io.tickflow.udf.JsonValue.Member;
import io.tickflow.udf.JsonValue.Null;
import io.tickflow.udf.JsonValue.Num;
import io.tickflow.udf.JsonValue.Obj;
import io.tickflow.udf.JsonValue.Str;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import static io.tickflow.udf.RawRecordParser.Field;

/**
 * What the parser must make of a generated record, worked out from the record's meaning (the contract in
 * schemas/raw_*.schema.json and the parser's documented limits), not from its token stream: the reason
 * code and, for a valid record, the typed values; for a rejected one a fragment its detail must contain.
 * Precedence: MALFORMED anywhere, else the first BAD_TYPE field in document order, else the first
 * MISSING_FIELD in declaration order.
 */
record ExpectedClassification(String reason, String detailContains, Object[] values) {

    private static final Pattern DECIMAL = Pattern.compile("-?[0-9]{1,9}(\\.[0-9]{1,9})?");
    private static final BigInteger MAX_LONG = BigInteger.valueOf(Long.MAX_VALUE);

    static ExpectedClassification of(Field[] fields, Obj record) {
        if (malformed(record, 1)) {
            return new ExpectedClassification("MALFORMED", "", null);
        }
        Object[] values = new Object[fields.length];
        boolean[] seen = new boolean[fields.length];
        for (Member m : record.members()) {
            Field f = field(fields, m.name().value());
            if (f == null) {
                return badType(simple(m.name().value()) ? m.name().value() : "");
            }
            seen[f.index] = true;
            if (m.value() instanceof Null) {
                continue;
            }
            Object v = typed(f, m.value());
            if (v == null) {
                return badType(f.name);
            }
            values[f.index] = v;
        }
        for (Field f : fields) {
            if (f.required && values[f.index] == null) {
                return new ExpectedClassification("MISSING_FIELD", (seen[f.index] ? "null " : "missing ") + f.name, null);
            }
        }
        return new ExpectedClassification(null, null, values);
    }

    private static ExpectedClassification badType(String detailContains) {
        return new ExpectedClassification("BAD_TYPE", detailContains, null);
    }

    /** A problem no field type can excuse: nesting, a number or name too long, a duplicate key. */
    private static boolean malformed(JsonValue v, int depth) {
        if (depth > RawRecordParser.MAX_NESTING_DEPTH && (v instanceof Arr || v instanceof Obj)) {
            return true;
        }
        if (v instanceof Num n) {
            return n.digits() > RawRecordParser.MAX_NUMBER_LENGTH;
        }
        if (v instanceof Arr a) {
            return a.items().stream().anyMatch(item -> malformed(item, depth + 1));
        }
        if (v instanceof Obj o) {
            Set<String> names = new HashSet<>();
            for (Member m : o.members()) {
                if (m.name().value().length() > RawRecordParser.MAX_NAME_LENGTH || !names.add(m.name().value())
                        || malformed(m.value(), depth + 1)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static Field field(Field[] fields, String name) {
        for (Field f : fields) {
            if (f.name.equals(name)) {
                return f;
            }
        }
        return null;
    }

    /** The typed value of a field, or null when the JSON value is not of the field's type. */
    private static Object typed(Field f, JsonValue v) {
        switch (f.kind) {
            case VERSION:
                return v instanceof Num n && n.isInteger() && new BigInteger(n.text()).equals(BigInteger.ONE) ? 1 : null;
            case STRING:
                return v instanceof Str s && !s.value().isEmpty() && s.value().length() <= f.maxLength
                        && storable(s.value()) ? s.value() : null;
            case LONG:
                if (v instanceof Num n && n.isInteger()) {
                    BigInteger i = new BigInteger(n.text());
                    return i.signum() >= 0 && i.compareTo(MAX_LONG) <= 0 ? i.longValueExact() : null;
                }
                return null;
            case DECIMAL:
                return v instanceof Str s && DECIMAL.matcher(s.value()).matches()
                        ? new BigDecimal(s.value()).setScale(9) : null;
            case STRING_ARRAY:
                if (v instanceof Arr a && a.items().stream().allMatch(i -> i instanceof Str s && storable(s.value()))) {
                    return a.items().stream().map(i -> ((Str) i).value()).toArray(String[]::new);
                }
                return null;
            default:
                throw new IllegalStateException(f.kind.name());
        }
    }

    /** No C0 control character, no DEL, no lone surrogate: what a text column can hold. */
    static boolean storable(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** A name that a detail quotes as it is (printable ASCII, short enough not to be clipped). */
    private static boolean simple(String name) {
        return name.length() <= 40 && name.chars().allMatch(c -> c >= 0x20 && c < 0x7f);
    }

    static List<String> structuralReasons() {
        return List.of("MALFORMED", "MISSING_FIELD", "BAD_TYPE");
    }
}
