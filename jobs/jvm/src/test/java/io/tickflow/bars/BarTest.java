package io.tickflow.bars;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Bar arithmetic: ties on one timestamp, arrival order, VWAP, decimal text. */
class BarTest {
    static final long M = 60_000_000_000L;
    static final long T0 = 1378072800L * 1_000_000_000L; // 2013-09-01 22:00 UTC, minute to hour aligned

    static Bar build(List<long[]> trades) {
        Bar bar = null;
        for (long[] t : trades) {
            Bar p = Bar.trade("ES", t[0], t[1], BigDecimal.valueOf(t[2], 2), BigDecimal.valueOf(t[3]), "replay");
            if (bar == null) {
                bar = p;
            } else {
                bar.merge(p);
            }
        }
        return bar;
    }

    /** Copies of emitted bars as they are now (the book keeps changing the bars it holds). */
    static List<Bar> copies(List<Bar> bars) {
        List<Bar> out = new ArrayList<>();
        for (Bar b : bars) {
            Bar c = b.rebucket(b.timeframe, b.bucketStart, b.bucketEnd);
            c.revision = b.revision;
            out.add(c);
        }
        return out;
    }

    static String ohlc(Bar b) {
        return Bar.text(b.open) + " " + Bar.text(b.high) + " " + Bar.text(b.low) + " " + Bar.text(b.close) + " v"
                + Bar.text(b.volume) + " n" + b.tradeCount + " vwap" + Bar.text(b.vwap());
    }

    @Test
    void tiesOnTheSameTimestampAreOrderedBySeqWhateverTheArrivalOrder() {
        List<long[]> trades = List.of(new long[] {T0 + 5, 1, 1000, 1}, new long[] {T0 + 5, 2, 1100, 1},
                new long[] {T0 + 5, 3, 900, 1}, new long[] {T0 + 5, 4, 1200, 2});
        List<List<long[]>> orders = List.of(trades, reversed(trades),
                List.of(trades.get(2), trades.get(0), trades.get(3), trades.get(1)));
        for (List<long[]> order : orders) {
            Bar b = build(order);
            assertEquals("10 12 9 12 v5 n4 vwap10.8", ohlc(b));
        }
    }

    @Test
    void outOfOrderArrivalGivesTheIdenticalBar() {
        Random rnd = new Random(7);
        List<long[]> trades = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            trades.add(new long[] {T0 + (long) (rnd.nextDouble() * M), i, 160000 + 25L * rnd.nextInt(40),
                1 + rnd.nextInt(8)});
        }
        List<long[]> sorted = new ArrayList<>(trades);
        sorted.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        String expected = ohlc(build(sorted));
        Collections.shuffle(trades, rnd);
        assertEquals(expected, ohlc(build(trades)));
    }

    @Test
    void vwapIsTheExactNotionalOverVolumeRoundedHalfEvenOnce() {
        Bar b = build(List.of(new long[] {T0, 1, 164025, 3}, new long[] {T0 + 1, 2, 164050, 1},
                new long[] {T0 + 2, 3, 164000, 2}));
        assertEquals(new BigDecimal("9841.25"), b.notional.stripTrailingZeros());
        assertEquals("1640.208333333", b.vwap().toPlainString());
        // 0.5 at the tenth place rounds to even
        Bar half = Bar.trade("ES", T0, 1, new BigDecimal("0.0000000005"), BigDecimal.ONE, "x");
        half.merge(Bar.trade("ES", T0, 2, new BigDecimal("0.0000000005"), BigDecimal.ONE, "x"));
        assertEquals("0", Bar.text(half.vwap()));
    }

    @Test
    void decimalTextIsTheShortestExactForm() {
        assertEquals("1640.25", Bar.text(new BigDecimal("1640.250000000")));
        assertEquals("1600", Bar.text(new BigDecimal("1600.000000000")));
        assertEquals("0.000000001", Bar.text(new BigDecimal("0.000000001")));
        assertEquals("0", Bar.text(new BigDecimal("0E-9")));
    }

    @Test
    void sourcesAreASortedUnion() {
        Bar b = Bar.trade("ES", T0, 1, BigDecimal.ONE, BigDecimal.ONE, "replay");
        b.merge(Bar.trade("ES", T0, 2, BigDecimal.ONE, BigDecimal.ONE, "databento"));
        b.merge(Bar.trade("ES", T0, 3, BigDecimal.ONE, BigDecimal.ONE, "replay"));
        assertEquals("databento,replay", b.sources);
    }

    @Test
    void intradayBucketsAreUtcAlignedAndHalfOpen() {
        assertEquals(T0, Timeframes.intradayStart(T0 + M - 1, "1m"));
        assertEquals(T0 + M, Timeframes.intradayStart(T0 + M, "1m"));
        assertEquals(T0 + 5 * M, Timeframes.intradayStart(T0 + 7 * M, "5m"));
        long[] hour = Timeframes.bucket(T0 + 61 * M, "1h", TradingSessions.UTC);
        assertEquals(T0 + 60 * M, hour[0]);
        assertEquals(T0 + 120 * M, hour[1]);
        assertEquals(-M, Timeframes.intradayStart(-1, "1m"));
    }

    private static List<long[]> reversed(List<long[]> l) {
        List<long[]> r = new ArrayList<>(l);
        Collections.reverse(r);
        return r;
    }
}
