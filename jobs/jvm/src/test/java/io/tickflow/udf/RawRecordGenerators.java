package io.tickflow.udf;

import io.tickflow.udf.JsonValue.Arr;
import io.tickflow.udf.JsonValue.Bool;
import io.tickflow.udf.JsonValue.Member;
import io.tickflow.udf.JsonValue.Null;
import io.tickflow.udf.JsonValue.Num;
import io.tickflow.udf.JsonValue.Obj;
import io.tickflow.udf.JsonValue.Str;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

import static io.tickflow.udf.RawRecordParser.Field;

/**
 * The fuzzers' inputs, as pure functions of a {@link Random} (jqwik seeds it per try, so a failing try is
 * replayable): raw records built from their meaning (valid values, near misses, any JSON value in any
 * field, unknown fields, duplicate keys, nesting, huge tokens) and byte-level mutations of valid records.
 */
public final class RawRecordGenerators {

    private RawRecordGenerators() {
    }

    /** A generated record and what was done to its bytes after writing it. */
    record Generated(Obj record, byte[] bytes, Damage damage) {
    }

    enum Damage {
        /** the bytes are the record's text */
        NONE,
        /** whitespace before and after: the same record */
        PADDED,
        /** cut short somewhere before its end */
        TRUNCATED,
        /** non-whitespace after the object */
        TRAILING
    }

    // --- records -------------------------------------------------------------------------------------

    /** A record of the parser's fields with every value valid (optional fields sometimes absent or null). */
    static Obj validRecord(Random r, Field[] fields) {
        List<Member> members = new ArrayList<>();
        for (Field f : fields) {
            if (!f.required && r.nextInt(4) == 0) {
                if (r.nextBoolean()) {
                    members.add(new Member(name(r, f.name), new Null()));
                }
                continue;
            }
            members.add(new Member(name(r, f.name), valid(r, f)));
        }
        if (r.nextInt(3) == 0) {
            Collections.shuffle(members, r);
        }
        return new Obj(members, whitespace(r));
    }

    /** A record whose fields may be valid, absent, null, near misses of their type or any JSON value,
     *  with unknown fields and duplicate keys now and then. */
    static Obj structuralRecord(Random r, Field[] fields) {
        List<Member> members = new ArrayList<>();
        // how many fields are anything but valid: none for a third of the records, so valid ones are common
        int odd = r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(r.nextBoolean() ? 1 : fields.length);
        double oddShare = (double) odd / fields.length;
        for (Field f : fields) {
            if (r.nextDouble() >= oddShare) {
                if (f.required || r.nextInt(4) != 0) {
                    members.add(new Member(name(r, f.name), valid(r, f)));
                }
                continue;
            }
            int pick = r.nextInt(100);
            if (pick < 15) {
                continue;
            }
            JsonValue v = pick < 30 ? new Null() : pick < 75 ? nearMiss(r, f) : anyValue(r, 3);
            members.add(new Member(name(r, f.name), v));
        }
        if (r.nextInt(10) == 0) {
            for (int i = 1 + r.nextInt(2); i > 0; i--) {
                members.add(new Member(unknownName(r), anyValue(r, 3)));
            }
        }
        if (r.nextInt(25) == 0 && !members.isEmpty()) {
            Member m = members.get(r.nextInt(members.size()));
            String name = m.name().value();
            members.add(new Member(new Str(name, JsonValue.quote(name, r.nextLong())), r.nextBoolean() ? m.value() : anyValue(r, 1)));
        }
        if (r.nextBoolean()) {
            Collections.shuffle(members, r);
        }
        return new Obj(members, whitespace(r));
    }

    /** A structural record written out, sometimes padded, truncated or followed by more bytes. */
    static Generated structural(Random r, Field[] fields) {
        Obj record = structuralRecord(r, fields);
        byte[] bytes = utf8(record.text());
        int pick = r.nextInt(100);
        if (pick < 8) {
            return new Generated(record, Arrays.copyOf(bytes, r.nextInt(bytes.length)), Damage.TRUNCATED);
        }
        if (pick < 11) {
            String[] more = {"x", "}", "]", ",", "{}", "1", "\"a\"", "null", "{\"v\":1}", "\u00e9"};
            return new Generated(record, utf8(record.text() + whitespace(r) + more[r.nextInt(more.length)]), Damage.TRAILING);
        }
        if (pick < 14) {
            return new Generated(record, utf8(" \n" + record.text() + "\r\n\t "), Damage.PADDED);
        }
        return new Generated(record, bytes, Damage.NONE);
    }

    // --- values ---------------------------------------------------------------------------------------

    /** A value the field accepts. */
    static JsonValue valid(Random r, Field f) {
        switch (f.kind) {
            case VERSION:
                return new Num("1");
            case STRING:
                return string(r, text(r, 1 + r.nextInt(f.maxLength), false));
            case LONG:
                return new Num(Long.toString(validLong(r)));
            case DECIMAL:
                return string(r, decimal(r));
            case STRING_ARRAY:
                List<JsonValue> items = new ArrayList<>();
                for (int i = r.nextInt(5); i > 0; i--) {
                    items.add(string(r, text(r, r.nextInt(12), false)));
                }
                return new Arr(items, whitespace(r));
            default:
                throw new IllegalStateException(f.kind.name());
        }
    }

    /** A value of the right JSON type or a close one that the field must still refuse (mostly). */
    static JsonValue nearMiss(Random r, Field f) {
        switch (f.kind) {
            case VERSION:
                return anyOf(r, () -> new Num("2"), () -> new Num("0"), () -> new Num("1.0"), () -> new Num("1e0"),
                        () -> new Num("-1"), () -> Str.plain("1"), () -> new Num("1" + "0".repeat(30)),
                        () -> new Arr(List.of(), ""), () -> new Obj(List.of(), ""));
            case STRING:
                return anyOf(r, () -> Str.plain(""), () -> string(r, text(r, f.maxLength + 1 + r.nextInt(3), false)),
                        () -> string(r, text(r, 1 + r.nextInt(f.maxLength), true)),
                        () -> string(r, "A\u0000"), () -> string(r, "\ud800"), () -> string(r, "AB\udc00C"),
                        () -> string(r, "X\u007f"), () -> string(r, "\u0085"), () -> new Num("12"), () -> new Bool(true),
                        () -> r.nextInt(50) == 0 ? string(r, text(r, 5_000 + r.nextInt(50_000), false)) : Str.plain("x".repeat(100)));
            case LONG:
                return anyOf(r, () -> new Num("-1"), () -> new Num("-0"), () -> new Num("9223372036854775808"),
                        () -> new Num("18446744073709551616"), () -> new Num("1.5"), () -> new Num("1e3"),
                        () -> new Num("1e999999999"), () -> new Num("-1e-999999999"), () -> Str.plain("1704207600000000000"),
                        () -> new Num(digits(r, 20 + r.nextInt(60))), () -> new Num(digits(r, 150 + r.nextInt(300))),
                        () -> new Arr(List.of(new Num("1")), ""));
            case DECIMAL:
                return anyOf(r, () -> Str.plain("1e5"), () -> Str.plain("NaN"), () -> Str.plain("1234567890"),
                        () -> Str.plain("1.1234567890"), () -> Str.plain(""), () -> Str.plain(" 1"), () -> Str.plain("+1"),
                        () -> Str.plain("1."), () -> Str.plain(".5"), () -> Str.plain("--1"), () -> Str.plain("\u0661"),
                        () -> new Num("10.5"), () -> new Num("10"), () -> string(r, decimal(r) + "\u0000"),
                        () -> Str.plain(digits(r, r.nextInt(50) == 0 ? 100_000 : 19)));
            case STRING_ARRAY:
                return anyOf(r, () -> new Arr(List.of(new Num("12"), new Num("37")), ""), () -> new Arr(List.of(new Null()), ""),
                        () -> new Arr(List.of(Str.plain("a"), new Obj(List.of(), "")), ""),
                        () -> new Arr(List.of(new Arr(List.of(Str.plain("12")), "")), " "), () -> Str.plain("12"),
                        () -> new Obj(List.of(new Member(Str.plain("12"), new Bool(true))), ""),
                        () -> new Arr(List.of(Str.plain("ok"), string(r, "\u0000")), ""),
                        () -> new Arr(List.of(Str.plain("ok"), string(r, "\udbff")), ""), () -> new Num("12"));
            default:
                throw new IllegalStateException(f.kind.name());
        }
    }

    /** Any JSON value, containers at most {@code depth} deep, and now and then a chain of containers far
     *  deeper than the parser allows. */
    static JsonValue anyValue(Random r, int depth) {
        int pick = r.nextInt(depth > 0 ? 100 : 70);
        if (pick < 8) {
            return new Null();
        }
        if (pick < 14) {
            return new Bool(r.nextBoolean());
        }
        if (pick < 40) {
            return anyNumber(r);
        }
        if (pick < 70) {
            return string(r, text(r, length(r), true));
        }
        if (pick < 84) {
            List<JsonValue> items = new ArrayList<>();
            for (int i = r.nextInt(5); i > 0; i--) {
                items.add(anyValue(r, depth - 1));
            }
            return new Arr(items, whitespace(r));
        }
        if (pick < 98) {
            List<Member> members = new ArrayList<>();
            for (int i = r.nextInt(5); i > 0; i--) {
                members.add(new Member(r.nextInt(8) == 0 && !members.isEmpty()
                        ? members.get(0).name() : unknownName(r), anyValue(r, depth - 1)));
            }
            return new Obj(members, whitespace(r));
        }
        return deepChain(r, RawRecordParser.MAX_NESTING_DEPTH + r.nextInt(40));
    }

    /** Containers nested {@code levels} deep, arrays and objects mixed. */
    static JsonValue deepChain(Random r, int levels) {
        JsonValue v = r.nextBoolean() ? new Num("1") : new Null();
        for (int i = 0; i < levels; i++) {
            v = r.nextBoolean() ? new Arr(List.of(v), "") : new Obj(List.of(new Member(Str.plain("a"), v)), "");
        }
        return v;
    }

    static Num anyNumber(Random r) {
        switch (r.nextInt(12)) {
            case 0: return new Num(Integer.toString(r.nextInt(100)));
            case 1: return new Num(Long.toString(r.nextLong()));
            case 2: return new Num(digits(r, 19 + r.nextInt(10)));
            case 3: return new Num("-" + digits(r, 1 + r.nextInt(25)));
            case 4: return new Num(r.nextInt(1000) + "." + digits(r, 1 + r.nextInt(12)));
            case 5: return new Num(oneOf(r, "1e999999999", "-1E-999999999", "1e+2", "0.0", "-0", "-0.0", "1E400"));
            case 6: return new Num(digits(r, 1 + r.nextInt(9)) + "e" + (r.nextBoolean() ? "-" : "") + r.nextInt(400));
            case 7: return new Num(digits(r, RawRecordParser.MAX_NUMBER_LENGTH * 2 + r.nextInt(200)));
            case 8: return new Num("1." + digits(r, RawRecordParser.MAX_NUMBER_LENGTH * 2) + "e-5");
            default: return new Num(Long.toString(validLong(r)));
        }
    }

    // --- strings --------------------------------------------------------------------------------------

    /** A string literal of {@code value}, its optional escapes chosen at random. */
    static Str string(Random r, String value) {
        int pick = r.nextInt(10);
        long bits = pick < 7 ? 0 : pick < 9 ? r.nextLong() : -1L;
        return new Str(value, JsonValue.quote(value, bits));
    }

    /** A field name as a string literal, sometimes with escapes (the same name). */
    static Str name(Random r, String name) {
        return new Str(name, JsonValue.quote(name, r.nextInt(20) == 0 ? r.nextLong() : 0));
    }

    static Str unknownName(Random r) {
        String name = switch (r.nextInt(8)) {
            case 0 -> "extra";
            case 1 -> "V";
            case 2 -> "symbol ";
            case 3 -> "sym\u0000bol";
            case 4 -> r.nextInt(10) == 0 ? "x".repeat(RawRecordParser.MAX_NAME_LENGTH * 2 + r.nextInt(100)) : "n" + r.nextInt(100);
            default -> text(r, 1 + r.nextInt(12), true);
        };
        return string(r, name);
    }

    /** Text of exactly {@code length} UTF-16 units, mostly ASCII; with {@code anything}, also control
     *  characters, DEL and lone surrogates. */
    static String text(Random r, int length, boolean anything) {
        StringBuilder b = new StringBuilder(length);
        while (b.length() < length) {
            int pick = r.nextInt(100);
            if (pick < 60) {
                b.append((char) ('!' + r.nextInt(94)));
            } else if (pick < 70) {
                b.append(oneOf(r, ' ', '"', '\\', '/', '\u00e9', '\u4e2d', '\u0661', '\u2028', '\ufeff', '\uffff'));
            } else if (pick < 75 && b.length() + 2 <= length) {
                b.appendCodePoint(0x1f600 + r.nextInt(64));
            } else if (anything && pick < 82) {
                b.append((char) (r.nextInt(8) == 0 ? 0x7f : r.nextInt(0x20)));
            } else if (anything && pick < 86) {
                b.append((char) (0xd800 + r.nextInt(0x800)));
            } else {
                b.append((char) ('a' + r.nextInt(26)));
            }
        }
        return b.toString();
    }

    private static int length(Random r) {
        int pick = r.nextInt(2_000);
        return pick == 0 ? 5_000 + r.nextInt(60_000) : pick < 200 ? 30 + r.nextInt(100) : r.nextInt(20);
    }

    // --- numbers --------------------------------------------------------------------------------------

    static long validLong(Random r) {
        switch (r.nextInt(6)) {
            case 0: return r.nextInt(1000);
            case 1: return Long.MAX_VALUE - r.nextInt(3);
            case 2: return r.nextLong() & Long.MAX_VALUE;
            default: return 1_700_000_000_000_000_000L + (r.nextLong() & 0xffff_ffff_ffffL);
        }
    }

    /** Text matching DECIMAL(18,9): -?[0-9]{1,9}(\.[0-9]{1,9})? */
    static String decimal(Random r) {
        String d = (r.nextInt(5) == 0 ? "-" : "") + digits(r, 1 + r.nextInt(9));
        return r.nextBoolean() ? d + "." + digits(r, 1 + r.nextInt(9)) : d;
    }

    /** {@code n} decimal digits, the first non-zero when {@code n > 1} (a JSON integer has no leading zero). */
    static String digits(Random r, int n) {
        StringBuilder b = new StringBuilder(n);
        b.append((char) ((n > 1 ? '1' : '0') + r.nextInt(n > 1 ? 9 : 10)));
        for (int i = 1; i < n; i++) {
            b.append((char) ('0' + r.nextInt(10)));
        }
        return b.toString();
    }

    // --- byte mutations -------------------------------------------------------------------------------

    /** 1 to 4 byte edits (insert, delete, replace) of {@code base}, with bytes biased to what changes a JSON
     *  parse: structure, digits and number syntax, escapes, control and high bytes. */
    public static byte[] mutate(Random r, byte[] base) {
        byte[] b = base;
        for (int edits = 1 + r.nextInt(4); edits > 0; edits--) {
            int op = r.nextInt(3);
            if (b.length == 0) {
                op = 0;
            }
            if (op == 0) {
                int at = r.nextInt(b.length + 1);
                byte[] n = new byte[b.length + 1];
                System.arraycopy(b, 0, n, 0, at);
                n[at] = interestingByte(r);
                System.arraycopy(b, at, n, at + 1, b.length - at);
                b = n;
            } else if (op == 1) {
                int at = r.nextInt(b.length);
                byte[] n = new byte[b.length - 1];
                System.arraycopy(b, 0, n, 0, at);
                System.arraycopy(b, at + 1, n, at, b.length - at - 1);
                b = n;
            } else {
                b = b.clone();
                b[r.nextInt(b.length)] = interestingByte(r);
            }
        }
        return b;
    }

    private static final byte[] STRUCTURE = ascii("{}[]\",:");
    private static final byte[] NUMBER = ascii("0123456789-.eE+");
    private static final byte[] ESCAPE = ascii("\\u/\"nt");
    private static final byte[] WORDS = ascii(" \t\r\nntrufalsexNI");

    static byte interestingByte(Random r) {
        int pick = r.nextInt(100);
        if (pick < 30) {
            return STRUCTURE[r.nextInt(STRUCTURE.length)];
        }
        if (pick < 50) {
            return NUMBER[r.nextInt(NUMBER.length)];
        }
        if (pick < 60) {
            return ESCAPE[r.nextInt(ESCAPE.length)];
        }
        if (pick < 70) {
            return (byte) (r.nextInt(8) == 0 ? 0x7f : r.nextInt(0x20));
        }
        if (pick < 85) {
            return (byte) (0x80 + r.nextInt(0x80));
        }
        return WORDS[r.nextInt(WORDS.length)];
    }

    // --- helpers --------------------------------------------------------------------------------------

    static String whitespace(Random r) {
        return r.nextInt(6) != 0 ? "" : oneOf(r, " ", "\n", "\t", "\r\n ", "  ");
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** One of the choices, only that one built. */
    @SafeVarargs
    private static JsonValue anyOf(Random r, Supplier<JsonValue>... choices) {
        return choices[r.nextInt(choices.length)].get();
    }

    @SafeVarargs
    private static <T> T oneOf(Random r, T... choices) {
        return choices[r.nextInt(choices.length)];
    }
}
