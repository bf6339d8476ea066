package io.tickflow.indicators;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Reading md.bars records: what is a bar of the key's series, and the reason for what is not. */
class BarReaderTest {
    static final String BAR = "{\"symbol\":\"ES\",\"timeframe\":\"1m\",\"bucket_start\":60000000000,"
            + "\"bucket_end\":120000000000,\"open\":\"10\",\"high\":\"12\",\"low\":\"9\",\"close\":\"11\","
            + "\"volume\":\"5\",\"vwap\":\"10.5\",\"trade_count\":3,\"revision\":0,\"sources\":[\"replay\"]}";
    static final BarReader.DayOf DAYS = (symbol, ts) -> ts - ts % 86_400_000_000_000L;

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String reason(String json, String key) {
        try {
            BarReader.read(json == null ? null : utf8(json), key, DAYS);
            return null;
        } catch (Refused r) {
            return r.reason;
        }
    }

    static String with(String field, String value) {
        return BAR.replaceFirst("\"" + field + "\":(\"[^\"]*\"|[0-9]+)", "\"" + field + "\":" + value);
    }

    @Test
    void a_bar_of_the_series_is_read_with_its_trading_day() throws Refused {
        BarReader.Read r = BarReader.read(utf8(BAR), "ES|1m", (symbol, ts) -> 42L);
        assertEquals("ES", r.symbol);
        assertEquals(60_000_000_000L, r.bar.bucketStart);
        assertEquals(11.0, r.bar.point.close);
        assertEquals(10.5, r.bar.point.vwap);
        assertEquals(42L, r.bar.point.day);
        BarReader.Read daily = BarReader.read(utf8(BAR.replace("\"1m\"", "\"1d\"")), "ES|1d", (symbol, ts) -> 42L);
        assertEquals(60_000_000_000L, daily.bar.point.day, "a 1d bar is its own day");
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "high;\"10.5\";OHLC_VIOLATION",
        "low;\"10.5\";OHLC_VIOLATION",
        "volume;\"-1\";OHLC_VIOLATION",
        "close;\"NaN\";BAD_TYPE",
        "close;NaN;BAD_TYPE",
        "close;null;BAD_TYPE",
        "close;\"1e3\";BAD_TYPE",
        "close;\" 11\";BAD_TYPE",
        "open;\"1000000000000000000\";BAD_TYPE",
        "bucket_end;0;BAD_TYPE",
        "revision;-1;BAD_TYPE",
        "revision;1.0;BAD_TYPE",
        "revision;9223372036854775808;BAD_TYPE",
        "close;11;",
        "close;11.0e0;",
        "open;1000e-2;",
    })
    void field_values(String field, String value, String expected) {
        assertEquals(expected, reason(with(field, value), "ES|1m"), field + "=" + value);
    }

    @Test
    void what_is_not_a_bar_of_the_series_is_malformed() {
        for (String s : new String[] {null, "", "{", "[]", "1", BAR + "x", BAR + " {}", "{\"a\":-INF}",
                BAR.replace("\"ES\"", "\"NQ\""), "{\"a\":" + "9".repeat(4301) + "}"}) {
            assertEquals("MALFORMED", reason(s, "ES|1m"), String.valueOf(s));
        }
        assertEquals("MALFORMED", reason(BAR, "?"));
        assertEquals("BAD_TYPE", reason(BAR.replace(",\"vwap\":\"10.5\"", ""), "ES|1m"), "a missing field");
        assertNull(reason("{\"x\":NaN," + BAR.substring(1), "ES|1m"), "NaN where nothing reads it, as Python");
        assertEquals("MALFORMED", reason(BAR.replace("\"replay\"", "\"\\u0000\u0001\""), "ES|1m"));
    }

    @Test
    void bytes_are_decoded_as_python_decodes_them() {
        assertNull(reason("\ufeff" + BAR, "ES|1m"), "a UTF-8 byte order mark");
        assertNull(BarReaderTest.reasonOf(BAR.getBytes(StandardCharsets.UTF_16)), "UTF-16 with its BOM");
        String marked = BAR.replace("replay", "re@@@y");
        int at = marked.indexOf("re@@@y") + 2;
        byte[] overlong = utf8(marked);
        overlong[at] = (byte) 0xC0;
        overlong[at + 1] = (byte) 0x80;
        assertEquals("MALFORMED", reasonOf(overlong), "not UTF-8");
        byte[] surrogate = utf8(marked);
        surrogate[at] = (byte) 0xED;
        surrogate[at + 1] = (byte) 0xA0;
        surrogate[at + 2] = (byte) 0x80;
        assertNull(reasonOf(surrogate), "an encoded surrogate passes, as in Python (surrogatepass)");
    }

    static String reasonOf(byte[] payload) {
        try {
            BarReader.read(payload, "ES|1m", DAYS);
            return null;
        } catch (Refused r) {
            return r.reason;
        }
    }

    @Test
    void series_keys_come_from_the_record_key_split_at_its_last_two_bars() {
        assertEquals("ES|1m", IndicatorBook.seriesKey(utf8("ES|1m|60")));
        assertEquals("A|B|1m", IndicatorBook.seriesKey(utf8("A|B|1m|60")));
        assertEquals("|", IndicatorBook.seriesKey(utf8("||")));
        assertEquals("?", IndicatorBook.seriesKey(utf8("ES|1m")));
        assertEquals("?", IndicatorBook.seriesKey(null));
        assertEquals("?", IndicatorBook.seriesKey(new byte[] {(byte) 0xFF, '|', 'a', '|', 'b'}));
    }

    @Test
    void floats_are_written_as_python_repr_writes_them() {
        String[][] cases = {{"1640.25", "1640.25"}, {"1e16", "1e+16"}, {"1e15", "1000000000000000.0"},
            {"1e-4", "0.0001"}, {"1e-5", "1e-05"}, {"-0.0", "-0.0"}, {"0.0", "0.0"}, {"0.1", "0.1"},
            {"1.5e-7", "1.5e-07"}, {"123456789012345678", "1.2345678901234568e+17"}, {"100", "100.0"},
            {"1e300", "1e+300"}};
        for (String[] c : cases) {
            assertEquals(c[1], PyJson.repr(Double.parseDouble(c[0])), c[0]);
        }
        StringBuilder s = new StringBuilder();
        PyJson.string(s, "é\"\\\n\u007f|\uD83D\uDE00");
        assertEquals("\"\\u00e9\\\"\\\\\\n\\u007f|\\ud83d\\ude00\"", s.toString());
    }

    @Test
    void an_unreadable_state_fails_loudly_instead_of_starting_over() {
        assertThrows(IllegalStateException.class, () -> IndicatorSeries.fromBytes(new byte[] {1, 0, 0}, 1, 16));
    }
}
