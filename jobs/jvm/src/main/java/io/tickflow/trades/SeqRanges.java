package io.tickflow.trades;

import java.util.Arrays;

/**
 * The sequence numbers of one series' trades the bar book has forgotten, as sorted, disjoint, inclusive
 * ranges {@code [lo0, hi0, lo1, hi1, …]}: a feed numbering its trades 1, 2, 3 … needs one range however long
 * it runs. At most {@link #MAX_RANGES} are kept; past that the two ranges with the smallest gap between them
 * are joined. Only trades already past the allowed lateness are judged against it, and those are refused
 * anyway: it decides whether such a trade is called DUPLICATE (a re-send of one in the bars) or LATE (one
 * missing from them), so a joined gap can only mislabel a refusal, never refuse a trade in time.
 */
public final class SeqRanges {
    public static final int MAX_RANGES = 64;

    private SeqRanges() {
    }

    /** Whether {@code seq} lies in one of {@code ranges} (null: none). */
    public static boolean contains(long[] ranges, long seq) {
        if (ranges == null) {
            return false;
        }
        int i = upperBound(ranges, seq);
        return i > 0 && ranges[2 * (i - 1) + 1] >= seq;
    }

    /** {@code ranges} with {@code seq} added (a new array; null counts as empty). */
    public static long[] add(long[] ranges, long seq) {
        long[] r = ranges == null ? new long[0] : ranges;
        if (contains(r, seq)) {
            return r;
        }
        int n = r.length / 2;
        int i = upperBound(r, seq); // ranges before index i start at or below seq
        boolean joinsLeft = i > 0 && r[2 * (i - 1) + 1] == seq - 1;
        boolean joinsRight = i < n && r[2 * i] == seq + 1;
        long[] out;
        if (joinsLeft && joinsRight) {
            out = new long[r.length - 2];
            System.arraycopy(r, 0, out, 0, 2 * (i - 1) + 1);
            out[2 * (i - 1) + 1] = r[2 * i + 1];
            System.arraycopy(r, 2 * i + 2, out, 2 * i, r.length - 2 * i - 2);
        } else if (joinsLeft) {
            out = r.clone();
            out[2 * (i - 1) + 1] = seq;
        } else if (joinsRight) {
            out = r.clone();
            out[2 * i] = seq;
        } else {
            out = new long[r.length + 2];
            System.arraycopy(r, 0, out, 0, 2 * i);
            out[2 * i] = seq;
            out[2 * i + 1] = seq;
            System.arraycopy(r, 2 * i, out, 2 * i + 2, r.length - 2 * i);
        }
        return out.length / 2 > MAX_RANGES ? joinClosest(out) : out;
    }

    /** Join the two adjacent ranges with the smallest gap between them. */
    static long[] joinClosest(long[] r) {
        int best = 0;
        long bestGap = Long.MAX_VALUE;
        for (int i = 0; i + 1 < r.length / 2; i++) {
            long gap = r[2 * (i + 1)] - r[2 * i + 1];
            if (gap < bestGap) {
                bestGap = gap;
                best = i;
            }
        }
        long[] out = new long[r.length - 2];
        System.arraycopy(r, 0, out, 0, 2 * best + 1);
        out[2 * best + 1] = r[2 * best + 3];
        System.arraycopy(r, 2 * best + 4, out, 2 * best + 2, r.length - 2 * best - 4);
        return out;
    }

    /** The number of ranges whose start is at or below {@code seq}. */
    private static int upperBound(long[] r, long seq) {
        int lo = 0;
        int hi = r.length / 2;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (r[2 * mid] <= seq) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    public static String toString(long[] ranges) {
        return Arrays.toString(ranges);
    }
}
