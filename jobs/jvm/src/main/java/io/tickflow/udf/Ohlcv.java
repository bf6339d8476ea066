package io.tickflow.udf;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.AggregateFunction;
import org.apache.flink.types.Row;

import java.math.BigDecimal;

/**
 * OHLCV(ts_event, seq, price, size, source, venue): one bar from its trades, whatever their arrival order.
 * Open is the price of the trade with the least (ts_event, seq), close of the greatest; high, low, volume,
 * notional (sum of price × size) and count are exact. Sources and venue are kept for the bar's record.
 */
@FunctionHint(
        accumulator = @DataTypeHint(value = "RAW", bridgedTo = Ohlcv.Acc.class),
        output = @DataTypeHint("ROW<open DECIMAL(18, 9), high DECIMAL(18, 9), low DECIMAL(18, 9), close DECIMAL(18, 9), "
                + "volume DECIMAL(38, 9), notional DECIMAL(38, 18), trade_count BIGINT, open_ts BIGINT, open_seq BIGINT, "
                + "close_ts BIGINT, close_seq BIGINT, sources STRING, venue STRING>"))
public class Ohlcv extends AggregateFunction<Row, Ohlcv.Acc> {

    /** Accumulator of one bar (serialised by Kryo-free RAW type: a plain Java object). */
    public static class Acc implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        public long openTs = Long.MAX_VALUE;
        public long openSeq = Long.MAX_VALUE;
        public BigDecimal open;
        public long closeTs = Long.MIN_VALUE;
        public long closeSeq = Long.MIN_VALUE;
        public BigDecimal close;
        public BigDecimal high;
        public BigDecimal low;
        public BigDecimal volume = BigDecimal.ZERO;
        public BigDecimal notional = BigDecimal.ZERO;
        public long count;
        public String sources;
        public String venue;
    }

    @Override
    public Acc createAccumulator() {
        return new Acc();
    }

    public void accumulate(Acc acc, Long ts, Long seq, @DataTypeHint("DECIMAL(18, 9)") BigDecimal price,
                           @DataTypeHint("DECIMAL(18, 9)") BigDecimal size, String source, String venue) {
        if (ts == null || seq == null || price == null || size == null) {
            return;
        }
        add(acc, ts, seq, price, ts, seq, price, price, price, size, price.multiply(size), 1, source, venue);
    }

    public void merge(Acc acc, Iterable<Acc> others) {
        for (Acc o : others) {
            if (o.count == 0) {
                continue;
            }
            add(acc, o.openTs, o.openSeq, o.open, o.closeTs, o.closeSeq, o.close, o.high, o.low, o.volume,
                    o.notional, o.count, o.sources, o.venue);
        }
    }

    private static void add(Acc acc, long oTs, long oSeq, BigDecimal open, long cTs, long cSeq, BigDecimal close,
                            BigDecimal high, BigDecimal low, BigDecimal volume, BigDecimal notional, long count,
                            String sources, String venue) {
        if (oTs < acc.openTs || (oTs == acc.openTs && oSeq < acc.openSeq)) {
            acc.openTs = oTs;
            acc.openSeq = oSeq;
            acc.open = open;
        }
        if (cTs > acc.closeTs || (cTs == acc.closeTs && cSeq > acc.closeSeq)) {
            acc.closeTs = cTs;
            acc.closeSeq = cSeq;
            acc.close = close;
        }
        if (acc.high == null || high.compareTo(acc.high) > 0) {
            acc.high = high;
        }
        if (acc.low == null || low.compareTo(acc.low) < 0) {
            acc.low = low;
        }
        acc.volume = acc.volume.add(volume);
        acc.notional = acc.notional.add(notional);
        acc.count += count;
        acc.sources = unionSorted(acc.sources, sources);
        if (acc.venue == null) {
            acc.venue = venue;
        }
    }

    /** Union of two comma-joined sorted source lists (almost always one source, so the fast path is equality). */
    static String unionSorted(String a, String b) {
        if (b == null || b.equals(a)) {
            return a;
        }
        if (a == null) {
            return b;
        }
        java.util.TreeSet<String> all = new java.util.TreeSet<>(java.util.Arrays.asList(a.split(",")));
        all.addAll(java.util.Arrays.asList(b.split(",")));
        return String.join(",", all);
    }

    @Override
    public Row getValue(Acc acc) {
        if (acc.count == 0) {
            return null;
        }
        return Row.of(acc.open, acc.high, acc.low, acc.close, acc.volume.setScale(9),
                acc.notional.setScale(18), acc.count, acc.openTs, acc.openSeq, acc.closeTs, acc.closeSeq,
                acc.sources, acc.venue);
    }
}
