package io.tickflow.bars;

import static io.tickflow.bars.BarBookTest.LATENESS_MS;
import static io.tickflow.bars.BarBookTest.M;
import static io.tickflow.bars.BarBookTest.NO_WATERMARK;
import static io.tickflow.bars.BarBookTest.T0;
import static io.tickflow.bars.BarBookTest.book;
import static io.tickflow.bars.BarBookTest.endMs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Duplicates in the bar book: per symbol, by trade identity, forgotten with the minutes in event time. */
class BarBookDuplicatesTest {
    static BarBook.Outcome trade(BarBook b, String source, long ts, long seq, String id, long wm) {
        return b.add("ES", source, "XCME", ts, seq, id, new BigDecimal("10"), BigDecimal.ONE, wm);
    }

    static long minuteCount(BarBook b) {
        List<Bar> out = b.advance(Long.MAX_VALUE - LATENESS_MS).emitted;
        return out.stream().filter(x -> x.timeframe.equals("1m")).mapToLong(x -> x.tradeCount).sum();
    }

    @Test
    void aRepeatedSeqIsADuplicateAndCountsOnce() {
        BarBook b = book(new MapBarStore());
        assertNull(trade(b, "feed", T0 + 1, 7, null, NO_WATERMARK).refusal);
        BarBook.Outcome again = trade(b, "feed", T0 + 1, 7, null, NO_WATERMARK);
        assertEquals(BarBook.DUPLICATE, again.refusal);
        assertTrue(again.detail.contains("feed ES seq 7"), again.detail);
        assertEquals(1, minuteCount(b));
    }

    @Test
    void theIdentityIsTheIdWhereThereIsOneAndTheSourceAlwaysCounts() {
        BarBook b = book(new MapBarStore());
        assertNull(trade(b, "feed", T0 + 1, 1, "a", NO_WATERMARK).refusal);
        assertNull(trade(b, "feed", T0 + 2, 1, "b", NO_WATERMARK).refusal, "same seq, another id");
        assertNull(trade(b, "feed", T0 + 3, 1, null, NO_WATERMARK).refusal, "an id is never a seq");
        assertNull(trade(b, "other", T0 + 1, 1, "a", NO_WATERMARK).refusal, "another source");
        assertEquals(BarBook.DUPLICATE, trade(b, "feed", T0 + 4, 2, "a", NO_WATERMARK).refusal, "same id, new seq");
        assertEquals(4, minuteCount(b));
    }

    @Test
    void aRepeatInAnotherMinuteIsStillADuplicate() {
        BarBook b = book(new MapBarStore());
        assertNull(trade(b, "feed", T0 + 1, 1, "x", NO_WATERMARK).refusal);
        assertEquals(BarBook.DUPLICATE, trade(b, "feed", T0 + M + 1, 1, "x", NO_WATERMARK).refusal);
    }

    @Test
    void identitiesAreForgottenWithTheirMinuteAndARepeatAfterThatIsLate() {
        MapBarStore store = new MapBarStore();
        BarBook b = book(store);
        trade(b, "feed", T0 + 1, 1, null, NO_WATERMARK);
        trade(b, "feed", T0 + M + 1, 2, null, NO_WATERMARK);
        b.advance(endMs(T0, M) + LATENESS_MS);
        assertEquals(1, store.taken().takenCount(), "the first minute's trade is forgotten, the second's kept");
        long wm = endMs(T0, M) + LATENESS_MS;
        assertEquals(BarBook.DUPLICATE, trade(b, "feed", T0 + M + 1, 2, null, wm).refusal, "still held");
        BarBook.Outcome resent = trade(b, "feed", T0 + 1, 1, null, wm);
        assertEquals(BarBook.DUPLICATE, resent.refusal, "its minute is closed, but its seq was taken");
        assertTrue(resent.detail.contains("was taken before"), resent.detail);
        assertEquals(BarBook.LATE, trade(b, "feed", T0 + 2, 5, null, wm).refusal, "a trade that never came");
        assertEquals(BarBook.LATE, trade(b, "other", T0 + 1, 1, null, wm).refusal, "seqs are per source");
    }

    @Test
    void theDuplicateStateHoldsTheLatenessWindowNotTheHistory() {
        MapBarStore store = new MapBarStore();
        BarBook b = book(store);
        int perMinute = 50;
        int[] held = new int[2];
        long seq = 0;
        for (int round = 0; round < 2; round++) {
            int minutes = round == 0 ? 100 : 400;
            for (int m = 0; m < minutes; m++) {
                long start = T0 + (long) (round * 1000 + m) * M;
                long wm = endMs(start, 0) - 1;
                for (int i = 0; i < perMinute; i++) {
                    assertNull(trade(b, "feed", start + i, seq++, null, wm).refusal);
                }
                b.advance(wm);
            }
            held[round] = store.taken().takenCount();
        }
        assertEquals(held[0], held[1], "four times the trades, the same state");
        assertEquals(held[1], store.taken().slotCount(), "a forgotten minute leaves no slot behind");
        assertArrayEquals(new long[] {0, seq - held[1] - 1}, store.taken().forgottenSeqs("feed"),
                "one range: every seq but those still held");
        assertTrue(held[1] <= perMinute * (LATENESS_MS / 60_000 + 2), "held " + held[1]);
    }
}
