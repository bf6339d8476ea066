package io.tickflow.bars;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Arrays;
import java.util.TreeSet;

/**
 * One bar being built, or built: exact decimals plus the (ts_event, seq) keys of its open and close, so the
 * order its trades and parts arrive in never matters. Sums are unbounded BigDecimals: a bucket's notional or
 * volume cannot overflow into a null the way a fixed SQL DECIMAL would. A Flink POJO (public fields, no-arg constructor): it is the value
 * type of the bar book's keyed state, which Flink can then evolve field by field.
 */
public class Bar {
    public String symbol;
    public String timeframe;
    public long bucketStart;
    public long bucketEnd;
    public BigDecimal open;
    public BigDecimal high;
    public BigDecimal low;
    public BigDecimal close;
    public BigDecimal volume;
    public BigDecimal notional;
    public long tradeCount;
    public long openTs;
    public long openSeq;
    public long closeTs;
    public long closeSeq;
    /** Comma-joined, sorted source names. */
    public String sources;
    /** The venue of the bar's first trade: whose trading sessions its 1d bar follows (null: UTC days). */
    public String venue;
    public int revision;
    public boolean emitted;

    public Bar() {
    }

    /** A 1m part as the SQL stage produces it: a whole on-time 1m bar, or a single late trade. */
    public static Bar part(String symbol, long minuteStart, BigDecimal open, BigDecimal high, BigDecimal low,
                           BigDecimal close, BigDecimal volume, BigDecimal notional, long tradeCount, long openTs,
                           long openSeq, long closeTs, long closeSeq, String sources) {
        Bar b = new Bar();
        b.symbol = symbol;
        b.timeframe = "1m";
        b.bucketStart = minuteStart;
        b.bucketEnd = minuteStart + Timeframes.widthNs("1m");
        b.open = open;
        b.high = high;
        b.low = low;
        b.close = close;
        b.volume = volume;
        b.notional = notional;
        b.tradeCount = tradeCount;
        b.openTs = openTs;
        b.openSeq = openSeq;
        b.closeTs = closeTs;
        b.closeSeq = closeSeq;
        b.sources = sources;
        return b;
    }

    /** A one-trade 1m bar. */
    public static Bar trade(String symbol, long ts, long seq, BigDecimal price, BigDecimal size, String source) {
        long minute = Timeframes.intradayStart(ts, "1m");
        return part(symbol, minute, price, price, price, price, size, price.multiply(size), 1, ts, seq, ts, seq,
                source);
    }

    /** Fold one trade of this bar's bucket into it (the per-trade path: no intermediate bar). */
    public void addTrade(long ts, long seq, BigDecimal price, BigDecimal size, String source) {
        if (ts < openTs || (ts == openTs && seq < openSeq)) {
            open = price;
            openTs = ts;
            openSeq = seq;
        }
        if (ts > closeTs || (ts == closeTs && seq > closeSeq)) {
            close = price;
            closeTs = ts;
            closeSeq = seq;
        }
        high = high.max(price);
        low = low.min(price);
        volume = volume.add(size);
        notional = notional.add(price.multiply(size));
        tradeCount += 1;
        sources = unionSorted(sources, source);
    }

    /** Fold another bar of the same bucket (or a part inside it) into this one. */
    public void merge(Bar p) {
        if (p.openTs < openTs || (p.openTs == openTs && p.openSeq < openSeq)) {
            open = p.open;
            openTs = p.openTs;
            openSeq = p.openSeq;
        }
        if (p.closeTs > closeTs || (p.closeTs == closeTs && p.closeSeq > closeSeq)) {
            close = p.close;
            closeTs = p.closeTs;
            closeSeq = p.closeSeq;
        }
        high = high.max(p.high);
        low = low.min(p.low);
        volume = volume.add(p.volume);
        notional = notional.add(p.notional);
        tradeCount += p.tradeCount;
        sources = unionSorted(sources, p.sources);
    }

    /** A copy of this bar's content as the first part of a bar of another bucket. */
    public Bar rebucket(String tf, long start, long end) {
        Bar b = part(symbol, start, open, high, low, close, volume, notional, tradeCount, openTs, openSeq, closeTs,
                closeSeq, sources);
        b.timeframe = tf;
        b.bucketEnd = end;
        b.venue = venue;
        return b;
    }

    /** Σ(price·size) / volume, rounded half-even to 9 places in one step; the close when volume is zero. */
    public BigDecimal vwap() {
        return volume.signum() == 0 ? close : notional.divide(volume, 9, RoundingMode.HALF_EVEN);
    }

    /** The Kafka key of md.bars: symbol|timeframe|bucket_start. */
    public String key() {
        return symbol + "|" + timeframe + "|" + bucketStart;
    }

    /** Shortest exact text of a decimal, never in exponent form ("1640.25", "1600"). */
    public static String text(BigDecimal d) {
        return d.signum() == 0 ? "0" : d.stripTrailingZeros().toPlainString();
    }

    static String unionSorted(String a, String b) {
        if (b == null || b.equals(a)) {
            return a;
        }
        if (a == null) {
            return b;
        }
        TreeSet<String> all = new TreeSet<>(Arrays.asList(a.split(",")));
        all.addAll(Arrays.asList(b.split(",")));
        return String.join(",", all);
    }
}
