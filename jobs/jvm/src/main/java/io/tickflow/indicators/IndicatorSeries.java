package io.tickflow.indicators;

import java.nio.BufferOverflowException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One (symbol, timeframe) series of bars and its indicators, with revisions: a pure state machine, the JVM
 * twin of jobs/indicator_series.py's {@code IndicatorSeries} (same rules, same refusals, same output).
 *
 * <p>The series keeps its last {@code keep} to {@code 2·keep} bars and three indicator states: before the
 * oldest kept bar ({@code base}), after the {@code keep}-th ({@code mid}) and after the newest
 * ({@code after}). A new bar at the end costs one update on top of {@code after}; every {@code keep} bars
 * {@code base} jumps to {@code mid} and the oldest {@code keep} bars are dropped. A bar that replaces a kept
 * one (a higher revision) or lands between them (a late new minute) replays the kept bars from {@code base},
 * emitting from the changed bar on, so the output always equals a batch computation over the final bars.
 * An older revision or a repeat is {@code DUPLICATE}, a bar older than the kept history {@code OUT_OF_ORDER}.
 *
 * <p>State is bytes ({@link #toBytes}) with a layout number first, so a later version can read it.
 */
public final class IndicatorSeries {
    /** The layout of {@link #toBytes}; {@link #fromBytes} refuses any other. */
    public static final int LAYOUT = 1;

    /** One changed bar's indicators: {@code values} in {@link IndicatorSet#FIELDS} order, NaN for null. */
    public static final class Changed {
        public final long bucketStart;
        public final long bucketEnd;
        public final long revision;
        public final double[] values;

        Changed(long bucketStart, long bucketEnd, long revision, double[] values) {
            this.bucketStart = bucketStart;
            this.bucketEnd = bucketEnd;
            this.revision = revision;
            this.values = values;
        }
    }

    private final int version;
    private final int keep;
    private final List<IncomingBar> bars;
    private IndicatorSet base;
    private IndicatorSet mid;
    private IndicatorSet after;
    private boolean dropped;

    public IndicatorSeries(int version, int keep) {
        if (keep < 1 || keep > 10_000) {
            throw new IllegalArgumentException("keep must be 1..10000, not " + keep);
        }
        this.version = version;
        this.keep = keep;
        this.bars = new ArrayList<>(2 * keep + 1);
    }

    private IndicatorSet indicators(IndicatorSet snapshot) {
        return snapshot == null ? new IndicatorSet(version) : snapshot.copyAs(version);
    }

    /**
     * Take a bar; returns every bar whose indicators changed, in time order.
     *
     * @throws Refused what the series cannot take; the state is then unchanged
     */
    public List<Changed> apply(IncomingBar bar) throws Refused {
        int i = bisectLeft(bar.bucketStart);
        boolean replaced = i < bars.size() && bars.get(i).bucketStart == bar.bucketStart;
        if (replaced) {
            long have = bars.get(i).revision;
            if (bar.revision <= have) {
                throw new Refused("DUPLICATE", "bar " + bar.bucketStart + " revision " + bar.revision
                        + " already applied (have revision " + have + ")");
            }
            bars.set(i, bar);
        } else if (i == 0 && dropped) {
            throw new Refused("OUT_OF_ORDER", "bar " + bar.bucketStart
                    + " is older than the bars kept for revisions (oldest " + bars.get(0).bucketStart + ")");
        } else {
            bars.add(i, bar);
        }
        int n = bars.size();
        IndicatorSet markKeep = null;      // the state after bars[keep - 1], when this step passed it
        IndicatorSet markTwoKeep = null;   // the state after bars[2·keep - 1]
        int first;
        IndicatorSet indicators;
        if (i == n - 1 && !replaced) {     // the usual case: a new bar at the end
            first = i;
            boolean marked = i - 1 == keep - 1 || i - 1 == 2 * keep - 1;
            // the state after the newest bar is updated in place unless it is kept as a mark, or shared
            boolean own = after != null && !marked && after != mid && after != base && after.version() == version;
            indicators = own ? after : indicators(after);
            if (i - 1 == keep - 1) {
                markKeep = after;
            } else if (i - 1 == 2 * keep - 1) {
                markTwoKeep = after;
            }
        } else {                            // a revision (of the newest bar too) or a late bar: replay
            first = 0;
            indicators = indicators(base);
        }
        List<Changed> out = new ArrayList<>(n - Math.min(i, n));
        int fields = indicators.fieldCount();
        for (int j = first; j < n; j++) {
            IncomingBar b = bars.get(j);
            double[] values = new double[fields];
            indicators.update(b.point, values);
            if (j >= i) {
                out.add(new Changed(b.bucketStart, b.bucketEnd, b.revision, values));
            }
            if (j == keep - 1) {
                markKeep = indicators.copyAs(version);
            } else if (j == 2 * keep - 1) {
                markTwoKeep = indicators.copyAs(version);
            }
        }
        after = indicators;
        if (markKeep != null) {
            mid = markKeep;
        }
        if (n > 2 * keep) {
            base = mid;
            mid = markTwoKeep;
            bars.subList(0, keep).clear();
            dropped = true;
        }
        return out;
    }

    private int bisectLeft(long start) {
        int lo = 0;
        int hi = bars.size();
        while (lo < hi) {
            int m = (lo + hi) >>> 1;
            if (bars.get(m).bucketStart < start) {
                lo = m + 1;
            } else {
                hi = m;
            }
        }
        return lo;
    }

    /** An indicator set's state is at most this long (windows of 50, 20, 20, 12, 14, 14, 3 and 3 values). */
    private static final int SET_BYTES = 2048;

    /** The state as bytes: layout, the kept bars, then base, mid and after (each present or not). */
    public byte[] toBytes() {
        ByteBuffer out = ByteBuffer.allocate(16 + 72 * bars.size() + 3 * SET_BYTES);
        try {
            out.put((byte) LAYOUT);
            out.put((byte) (dropped ? 1 : 0));
            out.putInt(bars.size());
            for (IncomingBar b : bars) {
                out.putLong(b.bucketStart);
                out.putLong(b.bucketEnd);
                out.putLong(b.revision);
                BarPoint p = b.point;
                out.putDouble(p.high);
                out.putDouble(p.low);
                out.putDouble(p.close);
                out.putDouble(p.volume);
                out.putDouble(p.vwap);
                out.putLong(p.day);
            }
            for (IndicatorSet s : new IndicatorSet[] {base, mid, after}) {
                out.put((byte) (s != null ? 1 : 0));
                if (s != null) {
                    s.write(out);
                }
            }
        } catch (BufferOverflowException e) {
            throw new IllegalStateException("indicator state larger than its bound", e);
        }
        return Arrays.copyOf(out.array(), out.position());
    }

    /**
     * A series of indicator set {@code version} from {@link #toBytes} (null or empty: a new series).
     *
     * @throws IllegalStateException bytes of another layout: an upgrade error, not bad data
     */
    public static IndicatorSeries fromBytes(byte[] state, int version, int keep) {
        IndicatorSeries s = new IndicatorSeries(version, keep);
        if (state == null || state.length == 0) {
            return s;
        }
        ByteBuffer in = ByteBuffer.wrap(state);
        int layout = Byte.toUnsignedInt(in.get());
        if (layout != LAYOUT) {
            throw new IllegalStateException("indicator state layout " + layout + " is not " + LAYOUT);
        }
        try {
            s.dropped = in.get() != 0;
            int n = in.getInt();
            for (int i = 0; i < n; i++) {
                long start = in.getLong();
                long end = in.getLong();
                long revision = in.getLong();
                BarPoint p = new BarPoint(in.getDouble(), in.getDouble(), in.getDouble(), in.getDouble(),
                        in.getDouble(), in.getLong());
                s.bars.add(new IncomingBar(start, end, revision, p));
            }
            s.base = in.get() != 0 ? IndicatorSet.read(in, version) : null;
            s.mid = in.get() != 0 ? IndicatorSet.read(in, version) : null;
            s.after = in.get() != 0 ? IndicatorSet.read(in, version) : null;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IllegalStateException("indicator state unreadable: " + e, e);
        }
        return s;
    }

    int keptBars() {
        return bars.size();
    }
}
