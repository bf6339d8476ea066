package io.tickflow.bars;

import java.util.List;

/** The timeframes of md.bars and their buckets: UTC-aligned intraday widths, and trading sessions for 1d. */
public final class Timeframes {
    public static final List<String> ALL = List.of("1m", "5m", "15m", "1h", "1d");
    private static final long MINUTE_NS = 60_000_000_000L;

    private Timeframes() {
    }

    public static long widthNs(String tf) {
        switch (tf) {
            case "1m": return MINUTE_NS;
            case "5m": return 5 * MINUTE_NS;
            case "15m": return 15 * MINUTE_NS;
            case "1h": return 60 * MINUTE_NS;
            default: throw new IllegalArgumentException("not an intraday timeframe: " + tf);
        }
    }

    /** Start of the UTC-aligned intraday bucket holding ts (ns; floor, also for times before 1970). */
    public static long intradayStart(long ts, String tf) {
        return Math.floorDiv(ts, widthNs(tf)) * widthNs(tf);
    }

    /** [start, end) of the bar of tf holding a trade at ts. */
    public static long[] bucket(long ts, String tf, TradingSessions days) {
        if (tf.equals("1d")) {
            return days.session(ts);
        }
        long start = intradayStart(ts, tf);
        return new long[] {start, start + widthNs(tf)};
    }

    public static int order(String tf) {
        return ALL.indexOf(tf);
    }
}
