package io.tickflow.bars;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The BarBook: lateness, emission on the watermark, revisions for late trades, roll-ups equal to their 1m
 *  bars, expiry, and restarts. */
class BarBookTest {
    static final long M = 60_000_000_000L;
    static final long H = 60 * M;
    static final long T0 = 1378072800L * 1_000_000_000L; // Sunday 2013-09-01 22:00 UTC = 17:00 CDT
    static final long LATENESS_MS = 60_000;
    static final long NO_WATERMARK = Long.MIN_VALUE;

    /** The last millisecond of the minute starting at {@code start} (ns). */
    static long endMs(long start, long width) {
        return (start + width) / 1_000_000 - 1;
    }

    static BarBook book(BarStore store) {
        return new BarBook(store, LATENESS_MS, Map.of());
    }

    static BarBook.Outcome trade(BarBook b, long ts, long seq, String price, String size, long wm) {
        return b.add("ES", "replay", "XCME", ts, seq, null, new BigDecimal(price), new BigDecimal(size), wm);
    }

    static List<String> shape(List<Bar> bars) {
        return bars.stream().map(b -> b.timeframe + "@" + b.revision).collect(Collectors.toList());
    }

    @Test
    void barsAreEmittedWhenTheWatermarkReachesTheirLastMillisecond() {
        BarBook b = book(new MapBarStore());
        BarBook.Outcome o = trade(b, T0 + 1, 1, "10", "1", NO_WATERMARK);
        assertEquals(endMs(T0, M), o.newMinuteDueMs, "a new minute asks for a timer at its last millisecond");
        assertEquals(List.of(), b.advance(endMs(T0, M) - 1).emitted);
        assertEquals(List.of("1m@0"), shape(b.advance(endMs(T0, M)).emitted));
        assertEquals(List.of(), b.advance(endMs(T0, M)).emitted, "emitted once");
    }

    @Test
    void rollUpsEqualTheirMinutesAndEmitInTimeframeOrder() {
        BarBook b = book(new MapBarStore());
        for (int i = 0; i < 5; i++) {
            trade(b, T0 + i * M + 1, i + 1, String.valueOf(10 + i), String.valueOf(i + 1), NO_WATERMARK);
        }
        List<Bar> emitted = b.advance(endMs(T0, 5 * M)).emitted;
        assertEquals(List.of("1m@0", "1m@0", "1m@0", "1m@0", "1m@0", "5m@0"), shape(emitted));
        Bar five = emitted.get(5);
        assertEquals("10 14 10 14 v15 n5 vwap" + Bar.text(five.vwap()), BarTest.ohlc(five));
        BigDecimal notional = emitted.subList(0, 5).stream().map(x -> x.notional).reduce(BigDecimal.ZERO,
                BigDecimal::add);
        assertEquals(0, notional.compareTo(five.notional));
        for (int i = 1; i < 5; i++) {
            assertTrue(emitted.get(i - 1).bucketStart < emitted.get(i).bucketStart, "earliest first");
        }
    }

    @Test
    void aLateTradeRevisesTheEmittedMinuteAndEveryEmittedRollUpHoldingIt() {
        BarBook b = book(new MapBarStore());
        trade(b, T0 + 10, 1, "10", "1", NO_WATERMARK);
        b.advance(endMs(T0, M)); // 1m emitted; 5m, 15m, 1h, 1d still open
        BarBook.Outcome o = trade(b, T0 + 5, 2, "9", "1", endMs(T0, M)); // before the open
        assertEquals(List.of("1m@1"), shape(o.revised));
        assertEquals("9 10 9 10 v2 n2 vwap9.5", BarTest.ohlc(o.revised.get(0)));
        assertEquals(List.of("1m@2"), shape(trade(b, T0 + 20, 3, "11", "1", endMs(T0, M)).revised));
        // the last minute of the 5m bucket is due with it: both are emitted, then a trade revises both
        trade(b, T0 + 4 * M + 10, 4, "12", "1", endMs(T0, M));
        List<Bar> later = b.advance(endMs(T0, 5 * M)).emitted;
        assertEquals(List.of("1m@0", "5m@0"), shape(later));
        assertEquals("9 12 9 12 v4 n4 vwap10.5", BarTest.ohlc(later.get(1)));
        BarBook.Outcome again = trade(b, T0 + 4 * M + 20, 5, "13", "1", endMs(T0, 5 * M));
        assertEquals(List.of("1m@1", "5m@1"), shape(again.revised));
        assertEquals("9 13 9 13 v5 n5 vwap11", BarTest.ohlc(again.revised.get(1)));
    }

    @Test
    void aMinuteThatComesAfterItsRollUpWasEmittedRevisesTheWholeRollUp() {
        BarBook b = book(new MapBarStore());
        for (int i = 0; i < 4; i++) { // minutes 0..3 of the 5m bucket
            trade(b, T0 + i * M + 1, i + 1, "10", "1", NO_WATERMARK);
        }
        long due5 = endMs(T0, 5 * M);
        List<Bar> first = b.advance(due5).emitted;
        assertEquals(List.of("1m@0", "1m@0", "1m@0", "1m@0", "5m@0"), shape(first));
        assertEquals(4, first.get(4).tradeCount);
        // minute 4 of the bucket arrives behind the watermark but within the allowed lateness
        BarBook.Outcome o = trade(b, T0 + 4 * M + 1, 5, "20", "3", due5 + LATENESS_MS - 1);
        assertNull(o.refusal);
        assertEquals(List.of(), o.revised, "a new minute is emitted by the watermark, not by the trade");
        List<Bar> next = b.advance(due5 + LATENESS_MS - 1).emitted;
        assertEquals(List.of("1m@0", "5m@1"), shape(next));
        Bar five = next.get(1);
        assertEquals(5, five.tradeCount, "the revision holds every part, not the newcomer alone");
        assertEquals("10 20 10 20 v7 n5 vwap" + Bar.text(five.vwap()), BarTest.ohlc(five));
    }

    @Test
    void aMinuteThatComesAfterItsRollUpsWereForgottenIsLateAndLeavesTheirFinalRecordsWhole() {
        BarBook b = book(new MapBarStore());
        for (int i = 0; i < 4; i++) {
            trade(b, T0 + i * M + 1, i + 1, "10", "1", NO_WATERMARK);
        }
        long due5 = endMs(T0, 5 * M);
        List<Bar> emitted = new ArrayList<>(b.advance(due5).emitted);
        emitted.addAll(b.advance(due5 + LATENESS_MS).emitted); // 5m and its minutes forgotten
        BarBook.Outcome o = trade(b, T0 + 4 * M + 1, 5, "20", "3", due5 + LATENESS_MS);
        assertEquals(BarBook.LATE, o.refusal);
        assertEquals(List.of(), o.revised);
        emitted.addAll(b.advance(Long.MAX_VALUE).emitted);
        Map<String, Bar> last = lastPerKey(emitted);
        assertEquals(4, last.get("ES|5m|" + T0).tradeCount);
        assertEquals(1, emitted.stream().filter(x -> x.key().equals("ES|5m|" + T0)).count(),
                "no second revision 0 of a fragment");
    }

    @Test
    void aRestartedOperatorKeepsJudgingByTheWatermarkItLastForgotAt() {
        MapBarStore store = new MapBarStore();
        BarBook before = book(store);
        trade(before, T0 + 1, 1, "10", "1", NO_WATERMARK);
        before.advance(endMs(T0, M) + LATENESS_MS); // minute forgotten
        // after a restore the operator's watermark starts from nothing; the store remembers
        BarBook after = book(store);
        BarBook.Outcome o = trade(after, T0 + 2, 2, "11", "1", NO_WATERMARK);
        assertEquals(BarBook.LATE, o.refusal);
        assertTrue(o.detail.contains("before watermark " + (endMs(T0, M) + LATENESS_MS)), o.detail);
        List<Bar> rest = after.advance(Long.MAX_VALUE).emitted;
        assertEquals(List.of("5m@0", "15m@0", "1h@0", "1d@0"), shape(rest), "no new 1m bar of the late trade");
        assertEquals(1, rest.get(0).tradeCount);
    }

    @Test
    void barsAreForgottenAfterTheAllowedLateness() {
        MapBarStore store = new MapBarStore();
        BarBook b = book(store);
        trade(b, T0 + 10, 1, "10", "1", NO_WATERMARK);
        b.advance(endMs(T0, M));
        assertNotNull(store.minute(T0));
        b.advance(endMs(T0, M) + LATENESS_MS - 1);
        assertNotNull(store.minute(T0));
        BarBook.Advance a = b.advance(endMs(T0, M) + LATENESS_MS);
        assertNull(store.minute(T0));
        assertEquals(endMs(T0, M) + LATENESS_MS, store.closedThroughMs());
        assertEquals(List.of(), a.emitted);
    }

    @Test
    void aWatermarkJumpEmitsEverythingDueBeforeForgettingIt() {
        MapBarStore store = new MapBarStore();
        BarBook b = book(store);
        trade(b, T0 + 10, 1, "10", "1", NO_WATERMARK);
        assertEquals(List.of("1m@0", "5m@0", "15m@0", "1h@0", "1d@0"), shape(b.advance(Long.MAX_VALUE).emitted));
        assertTrue(store.all().isEmpty());
    }

    @Test
    void timersCoverEmissionAndExpiry() {
        BarBook b = book(new MapBarStore());
        trade(b, T0 + 10, 1, "10", "1", NO_WATERMARK);
        BarBook.Advance a = b.advance(endMs(T0, M));
        assertTrue(a.timersMs.contains(endMs(T0, M) + LATENESS_MS), "the minute's expiry");
        assertTrue(a.timersMs.contains(endMs(T0, 5 * M)), "the new 5m bar's emission");
        assertTrue(a.timersMs.contains(endMs(T0, H)), "the new 1h bar's emission");
    }

    @Test
    void theDailyBarFollowsTheVenueSession() {
        // Labor Day 2013 on CME: Sunday 17:00 CDT → Monday 12:00 CDT (early close); then Monday 17:00 → Tuesday
        TradingSessions cme = new TradingSessions(new long[] {T0, T0 + 24 * H}, new long[] {T0 + 19 * H, T0 + 48 * H});
        BarBook b = new BarBook(new MapBarStore(), LATENESS_MS, Map.of("XCME", cme));
        trade(b, T0 + 10, 1, "10", "1", NO_WATERMARK);
        trade(b, T0 + 20 * H, 2, "11", "1", NO_WATERMARK); // after the early close: the next session's date
        List<Bar> days = b.advance(Long.MAX_VALUE).emitted.stream().filter(x -> x.timeframe.equals("1d"))
                .collect(Collectors.toList());
        assertEquals(2, days.size());
        assertEquals(T0, days.get(0).bucketStart);
        assertEquals(T0 + 19 * H, days.get(0).bucketEnd);
        assertEquals(T0 + 24 * H, days.get(1).bucketStart);
        assertEquals(1, days.get(1).tradeCount);
    }

    @Test
    void sumsBeyondAnySqlDecimalStayExact() {
        BarBook b = book(new MapBarStore());
        String price = "999999999.999999999";
        String size = "999999999.999999999";
        for (int i = 0; i < 1000; i++) {
            trade(b, T0 + i, i, price, size, NO_WATERMARK);
        }
        Bar day = b.advance(Long.MAX_VALUE).emitted.stream().filter(x -> x.timeframe.equals("1d")).findFirst()
                .orElseThrow();
        BigDecimal one = new BigDecimal(price).multiply(new BigDecimal(size));
        assertEquals(0, one.multiply(BigDecimal.valueOf(1000)).compareTo(day.notional));
        assertTrue(day.notional.precision() - day.notional.scale() > 20, "past DECIMAL(38, 18)");
        assertEquals(price, Bar.text(day.vwap()));
    }

    static Map<String, Bar> lastPerKey(List<Bar> records) {
        Map<String, Bar> out = new HashMap<>();
        for (Bar r : records) {
            out.put(r.key(), r);
        }
        return out;
    }

    @Test
    void sameMinuteRevisionsKeepTheirOrderAndTheFinalRecordHoldsEveryTrade() {
        BarBook b = book(new MapBarStore());
        List<Bar> records = new ArrayList<>();
        trade(b, T0 + 10, 1, "10", "1", NO_WATERMARK);
        records.addAll(BarTest.copies(b.advance(endMs(T0, M)).emitted));
        records.addAll(BarTest.copies(trade(b, T0 + 11, 2, "12", "1", endMs(T0, M)).revised));
        records.addAll(BarTest.copies(trade(b, T0 + 12, 3, "8", "1", endMs(T0, M)).revised));
        records.addAll(BarTest.copies(b.advance(Long.MAX_VALUE).emitted));
        List<Integer> minuteRevisions = records.stream().filter(r -> r.timeframe.equals("1m"))
                .map(r -> r.revision).collect(Collectors.toList());
        assertEquals(List.of(0, 1, 2), minuteRevisions);
        assertFalse(records.isEmpty());
        assertEquals("10 12 8 8 v3 n3 vwap10", BarTest.ohlc(lastPerKey(records).get("ES|1h|" + T0)));
    }
}
