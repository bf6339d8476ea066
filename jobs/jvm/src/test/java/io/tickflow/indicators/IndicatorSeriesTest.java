package io.tickflow.indicators;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Revisions, late and repeated bars: the series always equals a batch computation over the final bars. */
class IndicatorSeriesTest {
    private static final long M = 60_000_000_000L;

    static IncomingBar bar(int i, double close, long revision) {
        return new IncomingBar(i * M, (i + 1) * M, revision, new BarPoint(close + 1, close - 1, close, 10.0, close, 0));
    }

    static double[] closes(int n, long seed) {
        Random r = new Random(seed);
        double[] out = new double[n];
        double x = 100.0;
        for (int i = 0; i < n; i++) {
            x += r.nextDouble() * 2 - 1;
            out[i] = Math.round(x * 100) / 100.0;
        }
        return out;
    }

    /** Indicators of every bar, computed from scratch over the bars in time order. */
    static List<double[]> batch(List<IncomingBar> bars, int set) {
        List<IncomingBar> sorted = new ArrayList<>(bars);
        sorted.sort(Comparator.comparingLong(b -> b.bucketStart));
        IndicatorSet s = new IndicatorSet(set);
        List<double[]> out = new ArrayList<>();
        for (IncomingBar b : sorted) {
            double[] v = new double[s.fieldCount()];
            s.update(b.point, v);
            out.add(v);
        }
        return out;
    }

    static List<IncomingBar> series(int n, long seed) {
        double[] c = closes(n, seed);
        List<IncomingBar> bars = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            bars.add(bar(i, c[i], 0));
        }
        return bars;
    }

    @Test
    void in_order_bars_equal_the_batch_computation_across_many_drops() throws Refused {
        List<IncomingBar> bars = series(200, 1);
        IndicatorSeries s = new IndicatorSeries(2, 16);
        List<double[]> got = new ArrayList<>();
        for (IncomingBar b : bars) {
            List<IndicatorSeries.Changed> changed = s.apply(b);
            assertEquals(1, changed.size());
            got.add(changed.get(0).values);
        }
        List<double[]> expected = batch(bars, 2);
        for (int i = 0; i < bars.size(); i++) {
            assertArrayEquals(expected.get(i), got.get(i), "bar " + i);
        }
        assertTrue(s.keptBars() <= 32);
    }

    @Test
    void a_revision_recomputes_from_that_bar_on_and_only_from_there() throws Refused {
        List<IncomingBar> bars = series(80, 2);
        IndicatorSeries s = new IndicatorSeries(1, 16);
        for (IncomingBar b : bars) {
            s.apply(b);
        }
        IncomingBar revised = bar(75, 150.0, 1);
        List<IndicatorSeries.Changed> changed = s.apply(revised);
        assertEquals(List.of(75L, 76L, 77L, 78L, 79L), changed.stream().map(c -> c.bucketStart / M).toList());
        assertEquals(1, changed.get(0).revision);
        bars.set(75, revised);
        List<double[]> expected = batch(bars, 1);
        for (int i = 0; i < changed.size(); i++) {
            assertArrayEquals(expected.get(75 + i), changed.get(i).values);
        }
    }

    @Test
    void a_revision_of_the_newest_bar_replaces_it() throws Refused {
        List<IncomingBar> bars = series(80, 3);
        IndicatorSeries s = new IndicatorSeries(1, 16);
        for (IncomingBar b : bars) {
            s.apply(b);
        }
        IncomingBar revised = bar(79, 150.0, 1);
        List<IndicatorSeries.Changed> changed = s.apply(revised);
        assertEquals(1, changed.size());
        bars.set(79, revised);
        assertArrayEquals(batch(bars, 1).get(79), changed.get(0).values);
    }

    @Test
    void a_late_new_bar_between_others_is_inserted_and_replayed() throws Refused {
        List<IncomingBar> bars = series(60, 4);
        IncomingBar late = bars.remove(57);
        IndicatorSeries s = new IndicatorSeries(1, 16);
        for (IncomingBar b : bars) {
            s.apply(b);
        }
        List<IndicatorSeries.Changed> changed = s.apply(late);
        assertEquals(List.of(57L, 58L, 59L), changed.stream().map(c -> c.bucketStart / M).toList());
        bars.add(57, late);
        List<double[]> expected = batch(bars, 1);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(expected.get(57 + i), changed.get(i).values);
        }
    }

    @Test
    void repeats_and_older_revisions_are_duplicates_and_leave_the_state_alone() throws Refused {
        IndicatorSeries s = new IndicatorSeries(1, 16);
        for (IncomingBar b : series(30, 5)) {
            s.apply(b);
        }
        byte[] before = s.toBytes();
        for (IncomingBar repeat : List.of(bar(29, 1.0, 0), bar(20, 5.0, 0))) {
            Refused r = assertThrows(Refused.class, () -> s.apply(repeat));
            assertEquals("DUPLICATE", r.reason);
        }
        assertArrayEquals(before, s.toBytes());
    }

    @Test
    void a_bar_older_than_the_kept_history_is_out_of_order() throws Refused {
        IndicatorSeries s = new IndicatorSeries(1, 4);
        double[] c = closes(10, 6);
        for (int i = 0; i < 10; i++) {
            s.apply(bar(i + 100, c[i], 0));
        }
        Refused r = assertThrows(Refused.class, () -> s.apply(bar(50, 99.0, 0)));
        assertEquals("OUT_OF_ORDER", r.reason);
    }

    @Test
    void the_state_survives_a_round_trip_through_bytes() throws Refused {
        List<IncomingBar> bars = series(90, 7);
        IndicatorSeries a = new IndicatorSeries(2, 16);
        for (IncomingBar b : bars.subList(0, 45)) {
            a.apply(b);
        }
        IndicatorSeries b2 = IndicatorSeries.fromBytes(a.toBytes(), 2, 16);
        assertArrayEquals(a.toBytes(), b2.toBytes());
        List<double[]> expected = batch(bars, 2);
        for (int i = 45; i < 90; i++) {
            assertArrayEquals(expected.get(i), b2.apply(bars.get(i)).get(0).values);
        }
    }

    @Test
    void set_2_continues_set_1_and_warms_up_only_the_stochastic() throws Refused {
        List<IncomingBar> bars = series(90, 8);
        IndicatorSeries v1 = new IndicatorSeries(1, 16);
        for (IncomingBar b : bars.subList(0, 60)) {
            v1.apply(b);
        }
        IndicatorSeries v2 = IndicatorSeries.fromBytes(v1.toBytes(), 2, 16);
        List<double[]> whole = batch(bars, 1);
        List<double[]> sinceUpgrade = batch(bars.subList(60, 90), 2);
        for (int i = 60; i < 90; i++) {
            double[] v = v2.apply(bars.get(i)).get(0).values;
            assertEquals(15, v.length);
            assertArrayEquals(whole.get(i), Arrays.copyOf(v, 13));
            assertArrayEquals(Arrays.copyOfRange(sinceUpgrade.get(i - 60), 13, 15), Arrays.copyOfRange(v, 13, 15));
        }
    }

    @Test
    void a_state_of_another_layout_is_an_upgrade_error() {
        byte[] other = new IndicatorSeries(1, 16).toBytes();
        other[0] = 9;
        assertThrows(IllegalStateException.class, () -> IndicatorSeries.fromBytes(other, 1, 16));
    }

    @Test
    void a_zero_range_series_gives_zero_stochastic_atr_and_rsi() throws Refused {
        IndicatorSeries s = new IndicatorSeries(2, 16);
        double[] last = null;
        for (int i = 0; i < 40; i++) {
            last = s.apply(new IncomingBar(i * M, (i + 1) * M, 0, new BarPoint(10, 10, 10, 5, 10, 0))).get(0).values;
        }
        assertEquals(0.0, last[13]);
        assertEquals(0.0, last[5]);
        assertEquals(0.0, last[4]);
        assertEquals(10.0, last[0]);
    }

    @Test
    void indicators_are_null_until_warmed_up_then_as_defined() {
        IndicatorSet s = new IndicatorSet(1);
        double[] v = new double[13];
        for (int i = 1; i <= 20; i++) {
            s.update(new BarPoint(i + 1, i - 1, i, 1, i, 0), v);
            if (i < 12) {
                assertTrue(Double.isNaN(v[2]), "ema_12 before bar 12");
            }
        }
        assertEquals(10.5, v[0]);           // SMA 20 of 1..20
        assertTrue(Double.isNaN(v[1]));     // SMA 50 not yet
        assertTrue(Double.isNaN(v[7]));     // MACD from bar 34
        assertEquals(100.0, v[4]);          // RSI of a rising series
        assertEquals(2.0, v[5]);            // ATR: every true range is 2
        assertEquals(10.5, v[6]);           // VWAP of one day: Σ i·1 / 20
    }
}
