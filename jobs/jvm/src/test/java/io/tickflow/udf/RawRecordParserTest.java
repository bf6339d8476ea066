package io.tickflow.udf;

import org.apache.flink.types.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static io.tickflow.udf.RawRecordParser.BAD_TYPE;
import static io.tickflow.udf.RawRecordParser.MALFORMED;
import static io.tickflow.udf.RawRecordParser.MISSING_FIELD;
import static io.tickflow.udf.RawRecordParser.Result;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parser's classification of each structural class of input, one example each, within the time bound. */
class RawRecordParserTest {

    private static final RawRecordParser TRADE = new ParseTrade().parser();
    private static final RawRecordParser QUOTE = new ParseQuote().parser();
    private static final TimedParse TIMED = new TimedParse();

    private static final String TRADE_FIELDS = "\"source\":\"polygon\",\"symbol\":\"AAPL\",\"venue\":\"XNAS\","
            + "\"ts_event\":1700000000123456789,\"ts_recv\":1700000000124000000,\"seq\":42,\"price\":\"189.7100\","
            + "\"size\":\"100\",\"trade_id\":\"52983525034312\"";
    private static final String VALID_TRADE = "{\"v\":1," + TRADE_FIELDS + ",\"conditions\":[\"12\",\"37\"]}";
    private static final String VALID_QUOTE = "{\"v\":1,\"source\":\"polygon\",\"symbol\":\"AAPL\",\"venue\":\"XNAS\","
            + "\"ts_event\":1700000000123456789,\"ts_recv\":1700000000124000000,\"seq\":7,\"bid\":\"189.70\","
            + "\"bid_size\":\"300\",\"ask\":\"189.72\",\"ask_size\":\"200\"}";

    @AfterAll
    static void stopWorker() {
        TIMED.close();
    }

    private static Result trade(String json) {
        return parse(TRADE, json.getBytes(StandardCharsets.UTF_8));
    }

    private static Result parse(RawRecordParser parser, byte[] raw) {
        Result r = TIMED.within(parser::parse, raw);
        assertNull(RawRecordChecks.inconsistency(parser, r), () -> TimedParse.describe(raw));
        return r;
    }

    /** A valid trade with one field's JSON text replaced ({@code field} must be one of TRADE_FIELDS or v/conditions). */
    private static String tradeWith(String field, String json) {
        String base = VALID_TRADE;
        int at = base.indexOf("\"" + field + "\":");
        int from = at + field.length() + 3;
        int to = field.equals("conditions") ? base.length() - 1 : base.indexOf(field.equals("trade_id") ? ",\"conditions\"" : ",\"", from);
        return base.substring(0, from) + json + base.substring(to);
    }

    private static void assertReason(String reason, String detailPart, Result r) {
        assertEquals(reason, r.reason, r.detail);
        assertTrue(r.detail.contains(detailPart), () -> "'" + r.detail + "' lacks '" + detailPart + "'");
    }

    // --- valid records --------------------------------------------------------------------------------

    @Test
    void a_valid_trade_has_every_value_typed() {
        Result r = trade(VALID_TRADE);
        assertNull(r.reason);
        assertArrayEquals(new Object[] {1, "polygon", "AAPL", "XNAS", 1700000000123456789L, 1700000000124000000L, 42L,
            new BigDecimal("189.710000000"), new BigDecimal("100.000000000"), "52983525034312", new String[] {"12", "37"}},
                r.values);
    }

    @Test
    void a_valid_quote_has_every_value_typed() {
        Result r = parse(QUOTE, VALID_QUOTE.getBytes(StandardCharsets.UTF_8));
        assertNull(r.reason);
        assertEquals(new BigDecimal("189.720000000"), r.values[9]);
    }

    @Test
    void whitespace_escapes_and_a_surrogate_pair_are_valid() {
        Result r = trade(" \n" + tradeWith("trade_id", "\"X-\\ud83d\\ude00\\u0041\"").replace(",", " ,\t") + "\r\n");
        assertNull(r.reason, r.detail);
        assertEquals("X-\ud83d\ude00A", r.values[9]);
    }

    @Test
    void optional_fields_may_be_null_or_absent() {
        Result r = trade("{\"v\":1,\"source\":\"s\",\"symbol\":\"S\",\"venue\":null,\"ts_event\":0,\"ts_recv\":0,"
                + "\"seq\":0,\"price\":\"-0\",\"size\":\"999999999.999999999\",\"conditions\":null}");
        assertNull(r.reason, r.detail);
        assertEquals(BigDecimal.ZERO.setScale(9), r.values[7]);
        assertEquals(new BigDecimal("999999999.999999999"), r.values[8]);
    }

    // --- inputs that once looped forever -------------------------------------------------------------

    @Test
    void integer_condition_codes_are_a_bad_type_that_names_the_connector() {
        Result r = trade(tradeWith("conditions", "[12,37]"));
        assertReason(BAD_TYPE, "conditions must be an array of strings, got a number at index 0", r);
        assertTrue(r.detail.contains("the connector turns them into strings"), r.detail);
    }

    @Test
    void version_given_an_array_is_a_bad_type() {
        assertReason(BAD_TYPE, "v must be the contract version 1, got an array", trade("{\"v\":[]}"));
        assertReason(BAD_TYPE, "got an object", trade(tradeWith("v", "{\"a\":[1,{}]}")));
    }

    @Test
    void any_container_in_any_field_is_skipped_whole() {
        for (String field : new String[] {"v", "source", "ts_event", "price", "trade_id"}) {
            for (String value : new String[] {"[]", "[1,[2,{\"a\":3}]]", "{}", "{\"a\":[null,true]}"}) {
                assertReason(BAD_TYPE, field, trade(tradeWith(field, value)));
            }
        }
        for (String value : new String[] {"[\"a\",{}]", "[[\"12\"]]", "[null]", "[true,\"1\"]", "[\"1\",2.5]", "{\"12\":true}"}) {
            assertReason(BAD_TYPE, "conditions", trade(tradeWith("conditions", value)));
        }
    }

    @Test
    void an_unknown_field_with_any_value_is_a_bad_type() {
        for (String value : new String[] {"1", "-1.5e3", "\"x\"", "true", "null", "[]", "[[1],{\"a\":{}}]", "{\"b\":[\"c\"]}"}) {
            assertReason(BAD_TYPE, "unexpected field 'extra'", trade(VALID_TRADE.replace("{\"v\":1,", "{\"extra\":" + value + ",\"v\":1,")));
        }
    }

    // --- truncation and end of input ------------------------------------------------------------------

    @Test
    void every_truncation_of_a_valid_record_is_malformed() {
        for (String record : new String[] {VALID_TRADE, VALID_QUOTE}) {
            RawRecordParser parser = record == VALID_TRADE ? TRADE : QUOTE;
            byte[] full = record.getBytes(StandardCharsets.UTF_8);
            for (int n = 0; n < full.length; n++) {
                assertEquals(MALFORMED, parse(parser, Arrays.copyOf(full, n)).reason, "cut at " + n);
            }
        }
    }

    @Test
    void bytes_after_the_object_are_malformed_but_whitespace_is_not() {
        assertReason(MALFORMED, "bytes after the JSON object", trade(VALID_TRADE + " {}"));
        assertEquals(MALFORMED, trade(VALID_TRADE + "x").reason);
        assertNull(trade(VALID_TRADE + " \n\t\r ").reason);
    }

    // --- limits ---------------------------------------------------------------------------------------

    @Test
    void nesting_past_the_limit_is_malformed() {
        int allowed = RawRecordParser.MAX_NESTING_DEPTH - 1; // the record itself is one level
        String ok = "[".repeat(allowed) + "]".repeat(allowed);
        assertReason(BAD_TYPE, "unexpected field", trade(VALID_TRADE.replace("{\"v\":1,", "{\"x\":" + ok + ",\"v\":1,")));
        String deep = "[".repeat(allowed + 1) + "]".repeat(allowed + 1);
        assertReason(MALFORMED, "nesting depth", trade(VALID_TRADE.replace("{\"v\":1,", "{\"x\":" + deep + ",\"v\":1,")));
        String veryDeep = "[".repeat(100_000) + "]".repeat(100_000);
        assertReason(MALFORMED, "nesting depth", trade(tradeWith("conditions", veryDeep)));
    }

    @Test
    void huge_numbers_are_classified_without_being_converted() {
        assertReason(BAD_TYPE, "ts_event must be an integer, got 1e999999999", trade(tradeWith("ts_event", "1e999999999")));
        assertReason(BAD_TYPE, "must be a decimal string", trade(tradeWith("price", "1E-999999999")));
        assertReason(BAD_TYPE, "unsupported contract version", trade(tradeWith("v", "1e999999999")));
        String longest = "9".repeat(RawRecordParser.MAX_NUMBER_LENGTH);
        assertReason(BAD_TYPE, "seq is out of range", trade(tradeWith("seq", longest)));
        assertReason(BAD_TYPE, "unsupported contract version", trade(tradeWith("v", longest)));
        assertReason(MALFORMED, "Number value length", trade(tradeWith("seq", longest + "9")));
        assertReason(MALFORMED, "Number value length", trade(tradeWith("seq", "1".repeat(100_000))));
        assertReason(MALFORMED, "Number value length", trade(tradeWith("price", "0." + "1".repeat(100_000))));
        assertReason(BAD_TYPE, "out of range", trade(tradeWith("ts_recv", "9223372036854775808")));
        assertNull(trade(tradeWith("ts_recv", "9223372036854775807")).reason);
        assertReason(BAD_TYPE, "must not be negative", trade(tradeWith("ts_recv", "-9223372036854775808")));
    }

    @Test
    void huge_strings_are_bad_types_and_names_past_the_limit_malformed() {
        String huge = "x".repeat(RawRecordParser.MAX_RECORD_BYTES - 1_000);
        assertReason(BAD_TYPE, "symbol must have 1 to 32 characters, got " + huge.length(), trade(tradeWith("symbol", "\"" + huge + "\"")));
        assertReason(BAD_TYPE, "is not a DECIMAL(18,9)", trade(tradeWith("price", "\"" + huge + "\"")));
        String longestName = "n".repeat(RawRecordParser.MAX_NAME_LENGTH);
        assertReason(BAD_TYPE, "unexpected field 'nnn", trade(VALID_TRADE.replace("{\"v\":1,", "{\"" + longestName + "\":1,\"v\":1,")));
        assertReason(MALFORMED, "Name length", trade(VALID_TRADE.replace("{\"v\":1,", "{\"" + longestName + "n\":1,\"v\":1,")));
    }

    @Test
    void a_record_over_the_size_limit_is_malformed_before_it_is_parsed() {
        byte[] big = (VALID_TRADE + " ".repeat(RawRecordParser.MAX_RECORD_BYTES)).getBytes(StandardCharsets.UTF_8);
        assertReason(MALFORMED, "over the limit", parse(TRADE, big));
    }

    // --- encodings and characters a sink cannot store ------------------------------------------------

    @Test
    void escaped_control_characters_and_lone_surrogates_are_bad_types_naming_the_field() {
        assertReason(BAD_TYPE, "symbol contains a control character (U+0000)", trade(tradeWith("symbol", "\"A\\u0000\"")));
        assertReason(BAD_TYPE, "source contains a control character (U+001F)", trade(tradeWith("source", "\"\\u001f\"")));
        assertReason(BAD_TYPE, "venue contains a control character (U+000A)", trade(tradeWith("venue", "\"X\\nY\"")));
        assertReason(BAD_TYPE, "venue contains a control character (U+007F)", trade(tradeWith("venue", "\"X\u007fY\"")));
        assertReason(BAD_TYPE, "trade_id contains a lone surrogate (U+D800)", trade(tradeWith("trade_id", "\"\\ud800\"")));
        assertReason(BAD_TYPE, "trade_id contains a lone surrogate (U+DC00)", trade(tradeWith("trade_id", "\"a\\udc00\\ud83d\"")));
        assertReason(BAD_TYPE, "conditions[1] contains a control character (U+0007)", trade(tradeWith("conditions", "[\"1\",\"\\u0007\"]")));
        assertNull(trade(tradeWith("trade_id", "\"\\u0085\\u00a0\\ufeff\"")).reason, "C1 controls and other characters are storable");
    }

    @Test
    void raw_control_bytes_and_bad_utf8_are_malformed() {
        assertReason(MALFORMED, "CTRL-CHAR", trade(tradeWith("symbol", "\"A\u0001\"")));
        assertReason(MALFORMED, "NUL byte at offset", trade(tradeWith("symbol", "\"A\u0000\"")));
        String[] invalid = {"c0 80", "ed a0 80", "f4 90 80 80", "ff", "e2 82", "80"};
        for (String hex : invalid) {
            byte[] raw = withBytesInSymbol(hex);
            assertReason(MALFORMED, "not UTF-8 at offset", parse(TRADE, raw));
        }
        assertReason(MALFORMED, "NUL byte", parse(TRADE, VALID_TRADE.getBytes(StandardCharsets.UTF_16BE)));
        assertReason(MALFORMED, "NUL byte", parse(TRADE, VALID_TRADE.getBytes(StandardCharsets.UTF_16LE)));
        assertNull(parse(TRADE, withBytesInSymbol("f0 9f 98 80")).reason, "a 4-byte character is valid");
    }

    private static byte[] withBytesInSymbol(String hex) {
        String[] parts = hex.split(" ");
        byte[] inner = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            inner[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        byte[] before = VALID_TRADE.substring(0, VALID_TRADE.indexOf("AAPL")).getBytes(StandardCharsets.UTF_8);
        byte[] after = VALID_TRADE.substring(VALID_TRADE.indexOf("AAPL")).getBytes(StandardCharsets.UTF_8);
        byte[] raw = Arrays.copyOf(before, before.length + inner.length + after.length);
        System.arraycopy(inner, 0, raw, before.length, inner.length);
        System.arraycopy(after, 0, raw, before.length + inner.length, after.length);
        return raw;
    }

    // --- reasons and their order ----------------------------------------------------------------------

    @Test
    void malformed_wins_over_bad_type_and_bad_type_over_missing_field() {
        assertEquals(MALFORMED, trade("{\"v\":2,\"v\":1}").reason);
        assertEquals(MALFORMED, trade("{\"extra\":1,\"v\":1").reason);
        assertReason(BAD_TYPE, "unexpected field 'extra'", trade("{\"extra\":1}"));
        assertReason(MISSING_FIELD, "null price", trade(tradeWith("price", "null")));
        assertReason(MISSING_FIELD, "missing v", trade("{}"));
    }

    @Test
    void details_show_bad_text_clipped_and_printable() {
        Result r = trade(tradeWith("price", "\"" + "\\u0001".repeat(100) + "\""));
        assertEquals(BAD_TYPE, r.reason);
        assertTrue(r.detail.startsWith("price 'U+0001U+0001"), r.detail);
        assertTrue(r.detail.length() < 420, r.detail);
        String clipped = RawRecordParser.clip("a \u0000 b \ud800" + "x".repeat(60));
        assertTrue(clipped.startsWith("a U+0000 b U+D800xxx") && clipped.endsWith("x…"), clipped);
    }

    // --- the decimal shape -----------------------------------------------------------------------------

    @Test
    void decimal_text_is_read_exactly_at_scale_9() {
        String[] good = {"0", "-0", "1", "123456789", "-123456789.123456789", "0.000000001", "10.5"};
        for (String s : good) {
            assertEquals(new BigDecimal(s).setScale(9), RawRecordParser.decimal(s.toCharArray(), 0, s.length()), s);
        }
        String[] bad = {"", "-", "+1", "1.", ".5", "1e5", "1234567890", "1.1234567890", " 1", "1 ", "--1", "1.2.3", "\u0661", "NaN"};
        for (String s : bad) {
            assertNull(RawRecordParser.decimal(s.toCharArray(), 0, s.length()), s);
        }
    }

    // --- the SQL functions keep their output shape ---------------------------------------------------

    @Test
    void parse_trade_returns_reason_detail_and_the_columns_and_caches_the_last_call() {
        ParseTrade f = new ParseTrade();
        byte[] raw = VALID_TRADE.getBytes(StandardCharsets.UTF_8);
        Row row = f.eval(raw);
        assertEquals(11, row.getArity());
        assertNull(row.getField(0));
        assertEquals("AAPL", row.getField(3));
        assertEquals(new BigDecimal("189.710000000"), row.getField(8));
        assertEquals("52983525034312", row.getField(10));
        assertSame(row, new ParseTrade().eval(raw.clone()), "the same bytes hit the per-thread cache");

        Row bad = f.eval(tradeWith("conditions", "[12]").getBytes(StandardCharsets.UTF_8));
        assertEquals(BAD_TYPE, bad.getField(0));
        assertEquals("AAPL", bad.getField(3));
        assertNull(bad.getField(8), "price is set only on a valid record");
    }

    @Test
    void parse_quote_returns_reason_detail_and_the_columns() {
        Row row = new ParseQuote().eval(VALID_QUOTE.getBytes(StandardCharsets.UTF_8));
        assertEquals(12, row.getArity());
        assertNull(row.getField(0));
        assertEquals(new BigDecimal("200.000000000"), row.getField(11));
    }
}
