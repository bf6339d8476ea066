package io.tickflow.bars;

import java.io.Serializable;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A venue's trading sessions as sorted [open, close) pairs (ns), exported from exchange-calendars by the job's
 * driver. A time belongs to the first session that closes after it: a trade between sessions goes to the next
 * session, the trade date the exchange gives it. Without sessions, or outside the table's range, days are UTC.
 */
public final class TradingSessions implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final long DAY_NS = 86_400_000_000_000L;
    public static final TradingSessions UTC = new TradingSessions(new long[0], new long[0]);

    private final long[] opens;
    private final long[] closes;

    public TradingSessions(long[] opens, long[] closes) {
        if (opens.length != closes.length) {
            throw new IllegalArgumentException("opens and closes differ in length");
        }
        for (int i = 0; i < opens.length; i++) {
            if (opens[i] >= closes[i] || (i > 0 && opens[i] < closes[i - 1])) {
                throw new IllegalArgumentException("sessions must be sorted and disjoint; bad at index " + i);
            }
        }
        this.opens = opens;
        this.closes = closes;
    }

    /** "open:close,open:close,…" in ns. */
    public static TradingSessions parse(String spec) {
        if (spec == null || spec.isBlank()) {
            return UTC;
        }
        String[] pairs = spec.split(",");
        long[] o = new long[pairs.length];
        long[] c = new long[pairs.length];
        for (int i = 0; i < pairs.length; i++) {
            String[] oc = pairs[i].split(":");
            o[i] = Long.parseLong(oc[0].trim());
            c[i] = Long.parseLong(oc[1].trim());
        }
        return new TradingSessions(o, c);
    }

    /** "VENUE=open:close,…;VENUE=…" → sessions per venue. */
    public static Map<String, TradingSessions> parseByVenue(String spec) {
        Map<String, TradingSessions> out = new HashMap<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String entry : spec.split(";")) {
            int eq = entry.indexOf('=');
            out.put(entry.substring(0, eq).trim(), parse(entry.substring(eq + 1)));
        }
        return out;
    }

    /** [open, close) of the session holding ts. */
    public long[] session(long ts) {
        int i = Arrays.binarySearch(closes, ts);
        // the first close strictly after ts
        i = i >= 0 ? i + 1 : -i - 1;
        if (i >= closes.length || (i == 0 && ts < opens[0] - DAY_NS)) {
            long start = Math.floorDiv(ts, DAY_NS) * DAY_NS;
            return new long[] {start, start + DAY_NS};
        }
        return new long[] {opens[i], closes[i]};
    }

    public int size() {
        return opens.length;
    }
}
