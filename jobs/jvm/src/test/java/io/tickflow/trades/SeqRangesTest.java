package io.tickflow.trades;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SeqRangesTest {
    @Test
    void aContiguousFeedIsOneRangeInWhateverOrderItArrives() {
        List<Long> seqs = new ArrayList<>();
        for (long s = 1; s <= 10_000; s++) {
            seqs.add(s);
        }
        Collections.shuffle(seqs, new Random(3));
        long[] r = null;
        for (long s : seqs) {
            r = SeqRanges.add(r, s);
        }
        assertArrayEquals(new long[] {1, 10_000}, r);
    }

    @Test
    void membershipIsExactWhileTheRangesFit() {
        Random rnd = new Random(11);
        TreeSet<Long> truth = new TreeSet<>();
        long[] r = null;
        for (int i = 0; i < 2_000; i++) {
            long s = rnd.nextInt(150);
            truth.add(s);
            r = SeqRanges.add(r, s);
            if (r.length / 2 < SeqRanges.MAX_RANGES) {
                for (long q = -1; q <= 151; q++) {
                    assertEquals(truth.contains(q), SeqRanges.contains(r, q), "seq " + q + " in " + SeqRanges.toString(r));
                }
            }
        }
    }

    @Test
    void pastTheCapTheClosestRangesJoinAndNothingAddedIsLost() {
        long[] r = null;
        for (long s = 0; s < 10 * SeqRanges.MAX_RANGES; s += 2) {
            r = SeqRanges.add(r, s);
        }
        r = SeqRanges.add(r, 100_000);
        assertEquals(SeqRanges.MAX_RANGES, r.length / 2);
        for (long s = 0; s < 10 * SeqRanges.MAX_RANGES; s += 2) {
            assertTrue(SeqRanges.contains(r, s));
        }
        assertTrue(SeqRanges.contains(r, 100_000));
        assertFalse(SeqRanges.contains(r, 99_999), "the widest gap stays open");
    }
}
