package io.tickflow.bars;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The BarBook: emission on the watermark, revisions for late input, roll-ups equal to their 1m bars, expiry. */
class BarBookTest {
    static final long M = 60_000_000_000L;
    static final long H = 60 * M;
    static final long T0 = 1378072800L * 1_000_000_000L; // Sunday 2013-09-01 22:00 UTC = 17:00 CDT
    static final long LATENESS_MS = 60_000;
    static final long CLOSE_OF_MINUTE_MS = (T0 + M) / 1_000_000 - 1;

    static BarBook book() {
        return new BarBook(new HashMap<>(), LATENESS_MS);
    }

    static Bar part(long ts, long seq, String price, String size) {
        return Bar.trade("ES", ts, seq, new BigDecimal(price), new BigDecimal(size), "replay");
    }

    static List<String> shape(List<Bar> bars) {
        return bars.stream().map(b -> b.timeframe + "@" + b.revision).collect(Collectors.toList());
    }

    @Test
    void barsAreEmittedWhenTheWatermarkReachesTheirLastMillisecond() {
        BarBook b = book();
        assertEquals(List.of(), b.add(part(T0 + 1, 1, "10", "1"), TradingSessions.UTC));
        assertEquals(List.of(), b.advance(CLOSE_OF_MINUTE_MS - 1));
        assertEquals(List.of("1m@0"), shape(b.advance(CLOSE_OF_MINUTE_MS)));
        assertEquals(List.of(), b.advance(CLOSE_OF_MINUTE_MS), "emitted once");
    }

    @Test
    void rollUpsEqualTheirMinutesAndEmitInTimeframeOrder() {
        BarBook b = book();
        for (int i = 0; i < 5; i++) {
            b.add(part(T0 + i * M + 1, i + 1, String.valueOf(10 + i), String.valueOf(i + 1)), TradingSessions.UTC);
        }
        List<Bar> emitted = b.advance((T0 + 5 * M) / 1_000_000 - 1);
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
    void lateInputRevisesEveryEmittedBarHoldingItAndOnlyThose() {
        BarBook b = book();
        b.add(part(T0 + 10, 1, "10", "1"), TradingSessions.UTC);
        b.advance(CLOSE_OF_MINUTE_MS); // 1m emitted; 5m, 15m, 1h, 1d still open
        List<Bar> revised = b.add(part(T0 + 5, 2, "9", "1"), TradingSessions.UTC); // late, before the open
        assertEquals(List.of("1m@1"), shape(revised));
        assertEquals("9 10 9 10 v2 n2 vwap9.5", BarTest.ohlc(revised.get(0)));
        assertEquals(List.of("1m@2"), shape(b.add(part(T0 + 20, 3, "11", "1"), TradingSessions.UTC)));
        List<Bar> later = b.advance((T0 + 5 * M) / 1_000_000 - 1);
        assertEquals(List.of("5m@0"), shape(later));
        assertEquals("9 11 9 11 v3 n3 vwap10", BarTest.ohlc(later.get(0)));
    }

    @Test
    void aLateTradeInAMinuteWithoutBarsOpensANewOneAtRevisionZero() {
        BarBook b = book();
        b.add(part(T0 + M + 10, 1, "10", "1"), TradingSessions.UTC);
        b.advance((T0 + 2 * M) / 1_000_000 - 1);
        assertEquals(List.of(), b.add(part(T0 + 5, 2, "9", "1"), TradingSessions.UTC));
        assertEquals(List.of("1m@0"), shape(b.advance((T0 + 2 * M) / 1_000_000)));
    }

    @Test
    void barsAreForgottenAfterTheAllowedLateness() {
        BarBook b = book();
        b.add(part(T0 + 10, 1, "10", "1"), TradingSessions.UTC);
        b.advance(CLOSE_OF_MINUTE_MS);
        assertTrue(b.bars().containsKey("1m|" + T0));
        b.advance(CLOSE_OF_MINUTE_MS + LATENESS_MS - 1);
        assertTrue(b.bars().containsKey("1m|" + T0));
        b.advance(CLOSE_OF_MINUTE_MS + LATENESS_MS);
        assertFalse(b.bars().containsKey("1m|" + T0));
    }

    @Test
    void aWatermarkJumpEmitsEverythingDueBeforeForgettingIt() {
        BarBook b = book();
        b.add(part(T0 + 10, 1, "10", "1"), TradingSessions.UTC);
        assertEquals(List.of("1m@0", "5m@0", "15m@0", "1h@0", "1d@0"), shape(b.advance(Long.MAX_VALUE)));
        assertTrue(b.bars().isEmpty());
    }

    @Test
    void timersCoverEmissionAndExpiry() {
        BarBook b = book();
        b.add(part(T0 + 10, 1, "10", "1"), TradingSessions.UTC);
        assertTrue(b.timersMs().contains(CLOSE_OF_MINUTE_MS));
        b.advance(CLOSE_OF_MINUTE_MS);
        assertTrue(b.timersMs().contains(CLOSE_OF_MINUTE_MS + LATENESS_MS));
        assertFalse(b.timersMs().contains(CLOSE_OF_MINUTE_MS));
    }

    @Test
    void theDailyBarFollowsTheVenueSession() {
        // Labor Day 2013 on CME: Sunday 17:00 CDT → Monday 12:00 CDT (early close); then Monday 17:00 → Tuesday
        TradingSessions cme = new TradingSessions(new long[] {T0, T0 + 24 * H}, new long[] {T0 + 19 * H, T0 + 48 * H});
        BarBook b = book();
        b.add(part(T0 + 10, 1, "10", "1"), cme);
        b.add(part(T0 + 20 * H, 2, "11", "1"), cme); // after the early close: the next session's trade date
        List<Bar> days = b.bars().values().stream().filter(x -> x.timeframe.equals("1d"))
                .sorted((x, y) -> Long.compare(x.bucketStart, y.bucketStart)).collect(Collectors.toList());
        assertEquals(2, days.size());
        assertEquals(T0, days.get(0).bucketStart);
        assertEquals(T0 + 19 * H, days.get(0).bucketEnd);
        assertEquals(T0 + 24 * H, days.get(1).bucketStart);
        assertEquals(1, days.get(1).tradeCount);
    }
}
