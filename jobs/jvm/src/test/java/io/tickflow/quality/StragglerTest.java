package io.tickflow.quality;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

/** Stragglers gathered per window: keys, merging, and the rows in and out of the batcher. */
class StragglerTest {
    static final long M = 60_000_000_000L;
    static final long W0 = 1378072800L * 1_000_000_000L;

    static Row in(String kind, String reason, Long tsEvent, Double price, String minute) {
        Row r = Row.withNames();
        for (String f : QualityRows.FIELDS) {
            r.setField(f, null);
        }
        r.setField("kind", kind);
        r.setField("source", "replay");
        r.setField("symbol", "ES");
        r.setField("reason", reason);
        r.setField("n", 1L);
        r.setField("ts_event", tsEvent);
        if (price != null) {
            r.setField("volume", 2.0);
            r.setField("notional", 2.0 * price);
            r.setField("high", price);
            r.setField("low", price);
            r.setField("minutes", minute);
        }
        return r;
    }

    @Test
    void eventTimesFallIntoTheirWindowAndRejectsWithoutOneStayApart() {
        assertEquals(W0, Straggler.windowOf(W0 + M - 1, M));
        assertEquals(W0 - 5 * M, Straggler.windowOf(W0 - 1, 5 * M));
        assertEquals(-M, Straggler.windowOf(-1L, M), "before 1970: floored, not truncated");
        assertNull(Straggler.windowOf(null, M));
        Straggler dup = QualityRows.straggler(in("reject", "DUPLICATE", W0 + 5, null, null), M);
        Straggler dupSameWindow = QualityRows.straggler(in("reject", "DUPLICATE", W0 + M - 1, null, null), M);
        Straggler malformed = QualityRows.straggler(in("reject", "MALFORMED", null, null, null), M);
        Straggler late = QualityRows.straggler(in("late", null, W0 + 5, 10.0, "1"), M);
        assertEquals(dup.batchKey(), dupSameWindow.batchKey());
        assertNotEquals(dup.batchKey(), malformed.batchKey());
        assertNotEquals(dup.batchKey(), late.batchKey());
    }

    @Test
    void aBatchCountsItsRecordsAndKeepsTheirSumsAndExtremes() {
        Straggler a = QualityRows.straggler(in("late", null, W0 + 5, 10.0, "229734480"), M);
        Straggler b = QualityRows.straggler(in("late", null, W0 + 7, 12.5, "229734480"), M);
        Straggler c = QualityRows.straggler(in("late", null, W0 + 9, 9.0, "229734479"), M);
        Straggler all = a.merge(b).merge(c);
        assertEquals(3, all.n);
        assertEquals(6.0, all.volume);
        assertEquals(2.0 * (10.0 + 12.5 + 9.0), all.notional);
        assertEquals(12.5, all.high);
        assertEquals(9.0, all.low);
        assertEquals("229734479,229734480", all.minutes);
        Row out = QualityRows.row(all);
        assertEquals(QualityRows.FIELDS.length, out.getArity());
        assertEquals(3L, out.getField(5));
        assertEquals(W0, out.getField(13), "ts_event: the window's start");
        assertNull(out.getField(3), "a straggler row has no ws (its window is ts_event's)");
    }

    @Test
    void rejectsCarryNoVolumeAndWindowRowsAreCopiedAsTheyAre() {
        Straggler dups = QualityRows.straggler(in("reject", "DUPLICATE", W0, null, null), M)
                .merge(QualityRows.straggler(in("reject", "DUPLICATE", W0 + 1, null, null), M));
        assertEquals(2, dups.n);
        assertNull(dups.volume);
        assertEquals("DUPLICATE", QualityRows.row(dups).getField(4));
        Row window = in("valid", null, null, 10.0, "1,2");
        window.setField("ws", W0);
        window.setField("n", 40L);
        assertTrue(!QualityRows.isStraggler(window));
        Row copied = QualityRows.copy(window);
        for (int i = 0; i < QualityRows.FIELDS.length; i++) {
            assertEquals(window.getField(QualityRows.FIELDS[i]), copied.getField(i), QualityRows.FIELDS[i]);
        }
    }
}
