package io.tickflow.quality;

import java.util.Objects;
import java.util.TreeSet;

/**
 * Records of one feed that reached the data-quality job after their window had closed, gathered by kind,
 * reason and window: "late" valid trades (counted in their window, with volume, notional, high, low and
 * minutes) or "reject" records (counted by reason). A Flink POJO: public fields, a no-argument constructor.
 */
public class Straggler {
    public String kind;
    public String source;
    public String symbol;
    public String reason;
    /** The start of the window its records belong to (ns); null for rejects without a usable event time. */
    public Long windowStart;
    public long n;
    public Double volume;
    public Double notional;
    public Double high;
    public Double low;
    /** Comma-separated minute numbers (ts / 60 s) that traded, as the SQL stage's LISTAGG gives them. */
    public String minutes;

    public Straggler() {
    }

    public Straggler(String kind, String source, String symbol, String reason, Long windowStart, long n,
                     Double volume, Double notional, Double high, Double low, String minutes) {
        this.kind = kind;
        this.source = source;
        this.symbol = symbol;
        this.reason = reason;
        this.windowStart = windowStart;
        this.n = n;
        this.volume = volume;
        this.notional = notional;
        this.high = high;
        this.low = low;
        this.minutes = minutes;
    }

    /** The window start of an event time: its floor to a multiple of {@code windowNs}; null stays null. */
    public static Long windowOf(Long tsEvent, long windowNs) {
        return tsEvent == null ? null : tsEvent - Math.floorMod(tsEvent, windowNs);
    }

    /** What a batch is gathered by: records with the same key merge into one. */
    public String batchKey() {
        return kind + "|" + source + "|" + (reason == null ? "" : reason) + "|"
                + (windowStart == null ? "" : windowStart.toString());
    }

    /** This and {@code other} (same batch key) as one: counts and sums added, extremes kept, minutes joined. */
    public Straggler merge(Straggler other) {
        return new Straggler(kind, source, symbol, reason, windowStart, n + other.n, sum(volume, other.volume),
                sum(notional, other.notional), extreme(high, other.high, true), extreme(low, other.low, false),
                union(minutes, other.minutes));
    }

    static Double sum(Double a, Double b) {
        return a == null ? b : b == null ? a : Double.valueOf(a + b);
    }

    static Double extreme(Double a, Double b, boolean max) {
        if (a == null || b == null) {
            return a == null ? b : a;
        }
        return max ? Math.max(a, b) : Math.min(a, b);
    }

    static String union(String a, String b) {
        if (a == null || a.isEmpty() || Objects.equals(a, b)) {
            return b == null || b.isEmpty() ? a : b;
        }
        if (b == null || b.isEmpty()) {
            return a;
        }
        TreeSet<Long> all = new TreeSet<>();
        for (String text : new String[] {a, b}) {
            for (String m : text.split(",")) {
                if (!m.isEmpty()) {
                    all.add(Long.parseLong(m));
                }
            }
        }
        StringBuilder out = new StringBuilder();
        for (long m : all) {
            out.append(out.length() == 0 ? "" : ",").append(m);
        }
        return out.toString();
    }
}
