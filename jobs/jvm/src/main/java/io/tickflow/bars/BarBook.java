package io.tickflow.bars;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The bars of one symbol across every timeframe, driven by event time: a pure state machine over a map of
 * bars keyed by "timeframe|bucket_start" (the operator keeps that map in keyed state).
 *
 * <p>Inputs are 1m parts: whole 1m bars from the SQL window (on-time trades) and single late trades inside the
 * allowed lateness. Each part is merged into the 1m bar of its minute and the 5m/15m/1h/1d bars holding it,
 * so every timeframe is the roll-up of the same 1m content. A bar is emitted once the watermark reaches its
 * last millisecond, with revision 0; a part reaching an emitted bar re-emits it at once with revision + 1. A
 * bar is forgotten when the watermark passes its last millisecond plus the allowed lateness: the SQL stage has
 * sent anything later to md.dlq as LATE.
 */
public final class BarBook {
    private static final Comparator<Bar> EMIT_ORDER =
            Comparator.comparingInt((Bar b) -> Timeframes.order(b.timeframe)).thenComparingLong(b -> b.bucketStart);

    private final Map<String, Bar> bars;
    private final long latenessMs;

    public BarBook(Map<String, Bar> bars, long latenessMs) {
        this.bars = bars;
        this.latenessMs = latenessMs;
    }

    public Map<String, Bar> bars() {
        return bars;
    }

    /** Event time (ms) at which a bar is complete: its last millisecond. */
    public static long dueMs(Bar b) {
        return Math.floorDiv(b.bucketEnd, 1_000_000L) - 1;
    }

    /** Merge a 1m part into every timeframe; returns the revisions this causes (bars already emitted). */
    public List<Bar> add(Bar part, TradingSessions days) {
        List<Bar> revised = new ArrayList<>();
        for (String tf : Timeframes.ALL) {
            long[] bucket = Timeframes.bucket(part.bucketStart, tf, days);
            String key = tf + "|" + bucket[0];
            Bar bar = bars.get(key);
            if (bar == null) {
                bars.put(key, part.rebucket(tf, bucket[0], bucket[1]));
                continue;
            }
            bar.merge(part);
            if (bar.emitted) {
                bar.revision += 1;
                revised.add(bar);
            }
        }
        return revised;
    }

    /** Event times (ms) at which this book has something to do: emit a bar, or forget one. */
    public TreeSet<Long> timersMs() {
        TreeSet<Long> out = new TreeSet<>();
        for (Bar b : bars.values()) {
            out.add(dueMs(b) + (b.emitted ? latenessMs : 0));
        }
        return out;
    }

    /** Emit the bars the watermark completed (shortest timeframe, then earliest, first); forget old ones. */
    public List<Bar> advance(long watermarkMs) {
        List<Bar> due = new ArrayList<>();
        for (Bar b : bars.values()) {
            if (!b.emitted && dueMs(b) <= watermarkMs) {
                due.add(b);
            }
        }
        due.sort(EMIT_ORDER);
        for (Bar b : due) {
            b.emitted = true;
        }
        bars.values().removeIf(b -> b.emitted && dueMs(b) + latenessMs <= watermarkMs);
        return due;
    }
}
