package io.tickflow.bars;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Whatever the timing — the order trades arrive in, when watermarks come and how far they jump, restarts
 * that reset the operator's watermark — every key's records are revisions 0, 1, 2, … in order, and its last
 * record holds exactly the trades the book took. When no trade is late, the last records are the same for
 * every timing.
 */
class BarBookTimingTest {
    static final long M = 60_000_000_000L;
    static final long T0 = 1378072800L * 1_000_000_000L;
    static final long LATENESS_MS = 60_000;

    record Trade(long ts, long seq, BigDecimal price, BigDecimal size) {
    }

    static List<Trade> trades(Random rnd, int n, long spanNs) {
        List<Trade> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long ts = T0 + (long) (rnd.nextDouble() * spanNs);
            out.add(new Trade(ts, i, BigDecimal.valueOf(1000 + rnd.nextInt(50), 1), BigDecimal.valueOf(1 + rnd.nextInt(9))));
        }
        out.sort((a, b) -> Long.compare(a.ts, b.ts));
        return out;
    }

    /** Arrival order: time order with each trade displaced by up to {@code disorderMs} of event time. */
    static List<Trade> arrival(Random rnd, List<Trade> sorted, long disorderMs) {
        List<long[]> keyed = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            keyed.add(new long[] {sorted.get(i).ts / 1_000_000 + (long) (rnd.nextDouble() * disorderMs), i});
        }
        keyed.sort((a, b) -> Long.compare(a[0], b[0]));
        List<Trade> out = new ArrayList<>();
        for (long[] k : keyed) {
            out.add(sorted.get((int) k[1]));
        }
        return out;
    }

    /** One run: the records the book emits, and the trades it took. */
    record Run(List<Bar> records, List<Trade> taken) {
    }

    /**
     * Feed {@code order}; after each trade, with some probability, advance the watermark (a bounded-delay
     * watermark, sometimes jumping far ahead of the trades) or restart (a new book on the same store, judging
     * by no watermark until the next one comes).
     */
    static Run run(Random rnd, List<Trade> order, double jumpChance, double restartChance) {
        MapBarStore store = new MapBarStore();
        BarBook book = new BarBook(store, LATENESS_MS, Map.of());
        List<Bar> records = new ArrayList<>();
        List<Trade> taken = new ArrayList<>();
        long maxSeenMs = Long.MIN_VALUE;
        long wm = Long.MIN_VALUE;
        for (Trade t : order) {
            BarBook.Outcome o = book.add("ES", "replay", null, t.ts, t.seq, null, t.price, t.size, wm);
            if (o.refusal == null) {
                taken.add(t);
                records.addAll(BarTest.copies(o.revised));
            }
            maxSeenMs = Math.max(maxSeenMs, t.ts / 1_000_000);
            double r = rnd.nextDouble();
            if (r < restartChance) {
                book = new BarBook(store, LATENESS_MS, Map.of());
                wm = Long.MIN_VALUE;
            } else if (r < restartChance + 0.3) {
                long next = maxSeenMs - 2_000 + (rnd.nextDouble() < jumpChance ? 30 * 60_000 : 0);
                if (next > wm) {
                    wm = next;
                    records.addAll(BarTest.copies(book.advance(wm).emitted));
                }
            }
        }
        records.addAll(BarTest.copies(book.advance(Long.MAX_VALUE).emitted));
        return new Run(records, taken);
    }

    /** Reference: every timeframe's bars built straight from the trades, one bar per bucket. */
    static Map<String, String> reference(List<Trade> taken) {
        Map<String, Bar> bars = new HashMap<>();
        for (Trade t : taken) {
            for (String tf : Timeframes.ALL) {
                long[] bucket = Timeframes.bucket(t.ts, tf, TradingSessions.UTC);
                String key = "ES|" + tf + "|" + bucket[0];
                Bar b = bars.get(key);
                if (b == null) {
                    b = Bar.trade("ES", t.ts, t.seq, t.price, t.size, "replay").rebucket(tf, bucket[0], bucket[1]);
                    bars.put(key, b);
                } else {
                    b.addTrade(t.ts, t.seq, t.price, t.size, "replay");
                }
            }
        }
        Map<String, String> out = new HashMap<>();
        bars.forEach((k, b) -> out.put(k, BarTest.ohlc(b)));
        return out;
    }

    static Map<String, String> finals(Run r) {
        Map<String, Integer> next = new HashMap<>();
        Map<String, String> out = new HashMap<>();
        for (Bar b : r.records) {
            int expected = next.getOrDefault(b.key(), 0);
            assertEquals(expected, b.revision, "revisions of " + b.key() + " in order, one revision 0");
            next.put(b.key(), expected + 1);
            out.put(b.key(), BarTest.ohlc(b));
        }
        return out;
    }

    @Test
    void theLastRecordOfEveryKeyHoldsExactlyTheTradesTakenWhateverTheTiming() {
        for (int seed = 0; seed < 300; seed++) {
            Random rnd = new Random(seed);
            List<Trade> sorted = trades(rnd, 400, 40 * M);
            Run r = run(rnd, arrival(rnd, sorted, 5_000 + rnd.nextInt(200_000)), 0.05, 0.02);
            assertEquals(reference(r.taken), finals(r), "seed " + seed);
        }
    }

    @Test
    void withNothingLateTheLastRecordsAreTheSameForEveryTiming() {
        Random rnd = new Random(42);
        List<Trade> sorted = trades(rnd, 600, 30 * M);
        Map<String, String> expected = reference(sorted);
        for (int seed = 0; seed < 100; seed++) {
            Random timing = new Random(seed);
            // disorder within the allowed lateness and no jumps: no trade can be late, but revisions happen
            List<Trade> order = arrival(timing, sorted, 30_000);
            Run r = run(timing, order, 0.0, 0.05);
            assertEquals(sorted.size(), r.taken.size(), "seed " + seed);
            assertEquals(expected, finals(r), "seed " + seed);
        }
        List<Trade> shuffled = new ArrayList<>(sorted);
        Collections.shuffle(shuffled, new Random(1));
        MapBarStore store = new MapBarStore();
        BarBook once = new BarBook(store, LATENESS_MS, Map.of());
        for (Trade t : shuffled) {
            once.add("ES", "replay", null, t.ts, t.seq, null, t.price, t.size, Long.MIN_VALUE);
        }
        Run whole = new Run(BarTest.copies(once.advance(Long.MAX_VALUE).emitted), shuffled);
        assertEquals(expected, finals(whole));
        assertTrue(expected.size() > 30);
    }
}
