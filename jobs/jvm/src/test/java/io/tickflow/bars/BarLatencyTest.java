package io.tickflow.bars;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The bar latency gauge: wall clock at emission minus the bar's end, in seconds. */
class BarLatencyTest {
    static final long END_NS = 1378072860L * 1_000_000_000L; // 2013-09-01 22:01 UTC

    @Test
    void secondsFromTheBarsEndToItsEmission() {
        assertEquals(2.5, BarBookFunction.latencySeconds(END_NS, END_NS / 1_000_000L + 2_500), 1e-9);
        assertEquals(0.0, BarBookFunction.latencySeconds(END_NS, END_NS / 1_000_000L), 1e-9);
    }

    @Test
    void keepsTheNanosecondsOfAnEndBetweenMilliseconds() {
        assertEquals(0.9995, BarBookFunction.latencySeconds(END_NS + 500_000L, END_NS / 1_000_000L + 1_000), 1e-9);
    }

    @Test
    void aReplayOfOldTradesShowsTheirAge() {
        long aYearLaterMs = END_NS / 1_000_000L + 365L * 86_400_000L;
        assertEquals(365 * 86_400.0, BarBookFunction.latencySeconds(END_NS, aYearLaterMs), 1e-6);
    }
}
