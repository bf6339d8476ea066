package io.tickflow.udf;

import io.tickflow.udf.JsonValue.Str;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static io.tickflow.udf.RawRecordParser.Field;
import static io.tickflow.udf.RawRecordParser.Result;

/** What holds for every parse result, whatever the input, and the canonical text of typed values. */
final class RawRecordChecks {

    private RawRecordChecks() {
    }

    private static final BigDecimal DECIMAL_LIMIT = new BigDecimal("1000000000");

    /**
     * The classification is consistent: valid exactly when there is no reason, a valid result has every
     * required field, a rejected one a structural reason and a detail; every value that is set has its
     * field's type and bounds, and every text a sink stores is storable. Null when all holds, else what fails.
     */
    static String inconsistency(RawRecordParser parser, Result r) {
        if (r == null || r.values.length != parser.size()) {
            return "no result of the parser's size";
        }
        Field[] fields = parser.fields();
        if (r.reason == null) {
            if (r.detail != null) {
                return "a valid result with a detail: " + r.detail;
            }
            for (Field f : fields) {
                if (f.required && r.values[f.index] == null) {
                    return "valid without " + f.name;
                }
            }
        } else {
            if (!ExpectedClassification.structuralReasons().contains(r.reason)) {
                return "reason " + r.reason + " is not the parser's";
            }
            if (r.detail == null || r.detail.isEmpty()) {
                return "reason " + r.reason + " without a detail";
            }
            if (r.detail.startsWith(RawRecordParser.PARSER_ERROR)) {
                return "the parser broke: " + r.detail;
            }
            if (!ExpectedClassification.storable(r.detail)) {
                return "a detail a sink cannot store: " + r.detail;
            }
        }
        for (Field f : fields) {
            Object v = r.values[f.index];
            if (v != null && !typed(f, v)) {
                return f.name + " holds " + v.getClass().getSimpleName() + " " + v;
            }
        }
        return null;
    }

    private static boolean typed(Field f, Object v) {
        switch (f.kind) {
            case VERSION:
                return Integer.valueOf(1).equals(v);
            case STRING:
                return v instanceof String s && !s.isEmpty() && s.length() <= f.maxLength && ExpectedClassification.storable(s);
            case LONG:
                return v instanceof Long l && l >= 0;
            case DECIMAL:
                return v instanceof BigDecimal d && d.scale() == 9 && d.abs().compareTo(DECIMAL_LIMIT) < 0;
            case STRING_ARRAY:
                return v instanceof String[] a && Arrays.stream(a).allMatch(ExpectedClassification::storable);
            default:
                return false;
        }
    }

    /** The record of these typed values as a connector writes it (compact, declaration order). */
    static String canonical(Field[] fields, Object[] values) {
        List<String> members = new ArrayList<>();
        for (Field f : fields) {
            Object v = values[f.index];
            if (v == null) {
                continue;
            }
            String text;
            if (v instanceof String s) {
                text = Str.plain(s).text();
            } else if (v instanceof BigDecimal d) {
                text = "\"" + d.toPlainString() + "\"";
            } else if (v instanceof String[] a) {
                text = Arrays.stream(a).map(s -> Str.plain(s).text()).collect(Collectors.joining(",", "[", "]"));
            } else {
                text = v.toString();
            }
            members.add("\"" + f.name + "\":" + text);
        }
        return members.stream().collect(Collectors.joining(",", "{", "}"));
    }
}
