package io.tickflow.quality;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.types.Row;

/**
 * The rows of the data-quality job's SQL stage ({@code to_python} in jobs/data_quality.py): window counts
 * ("valid", "rejects") and stragglers ("late", "reject"), one column layout for all.
 */
public final class QualityRows {
    public static final String[] FIELDS = {"kind", "source", "symbol", "ws", "reason", "n", "volume", "notional",
        "high", "low", "p50", "p99", "minutes", "ts_event"};
    public static final TypeInformation<Row> TYPE = Types.ROW_NAMED(FIELDS, Types.STRING, Types.STRING,
            Types.STRING, Types.LONG, Types.STRING, Types.LONG, Types.DOUBLE, Types.DOUBLE, Types.DOUBLE,
            Types.DOUBLE, Types.DOUBLE, Types.DOUBLE, Types.STRING, Types.LONG);

    private QualityRows() {
    }

    /** True for the straggler kinds, which arrive one record at a time. */
    public static boolean isStraggler(Row r) {
        String kind = r.getFieldAs("kind");
        return "late".equals(kind) || "reject".equals(kind);
    }

    /** A row of any kind in this layout, read by field name. */
    public static Row copy(Row r) {
        Row out = new Row(FIELDS.length);
        for (int i = 0; i < FIELDS.length; i++) {
            out.setField(i, r.getField(FIELDS[i]));
        }
        return out;
    }

    /** A straggler row as one record of its batch (its event time reduced to its window's start). */
    public static Straggler straggler(Row r, long windowNs) {
        Long n = r.getFieldAs("n");
        return new Straggler(r.getFieldAs("kind"), r.getFieldAs("source"), r.getFieldAs("symbol"),
                r.getFieldAs("reason"), Straggler.windowOf(r.getFieldAs("ts_event"), windowNs),
                n == null ? 1 : n, r.getFieldAs("volume"), r.getFieldAs("notional"), r.getFieldAs("high"),
                r.getFieldAs("low"), r.getFieldAs("minutes"));
    }

    /** A batch as one straggler row: {@code n} records, {@code ts_event} the start of their window. */
    public static Row row(Straggler s) {
        return Row.of(s.kind, s.source, s.symbol, null, s.reason, s.n, s.volume, s.notional, s.high, s.low, null,
                null, s.minutes, s.windowStart);
    }
}
