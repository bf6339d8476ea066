package io.tickflow.udf;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

import static io.tickflow.udf.RawRecordParser.Field;
import static io.tickflow.udf.RawRecordParser.Kind;

/** PARSE_QUOTE(raw BYTES): an md.raw.quotes record as typed columns, or reason/detail when it is not one. */
public class ParseQuote extends ScalarFunction {

    private static final RawRecordParser PARSER = new RawRecordParser(
            new Field("v", Kind.VERSION, true, 0, 0),
            new Field("source", Kind.STRING, true, 32, 1),
            new Field("symbol", Kind.STRING, true, 32, 2),
            new Field("venue", Kind.STRING, false, 16, 3),
            new Field("ts_event", Kind.LONG, true, 0, 4),
            new Field("ts_recv", Kind.LONG, true, 0, 5),
            new Field("seq", Kind.LONG, true, 0, 6),
            new Field("bid", Kind.DECIMAL, true, 0, 7),
            new Field("bid_size", Kind.DECIMAL, true, 0, 8),
            new Field("ask", Kind.DECIMAL, true, 0, 9),
            new Field("ask_size", Kind.DECIMAL, true, 0, 10));

    private static final ThreadLocal<RawRecordParser.LastCall> LAST =
            ThreadLocal.withInitial(RawRecordParser.LastCall::new);

    @DataTypeHint("ROW<reason STRING, detail STRING, source STRING, symbol STRING, venue STRING, "
            + "ts_event BIGINT, ts_recv BIGINT, seq BIGINT, bid DECIMAL(18, 9), bid_size DECIMAL(18, 9), "
            + "ask DECIMAL(18, 9), ask_size DECIMAL(18, 9)>")
    public Row eval(byte[] raw) {
        RawRecordParser.LastCall last = LAST.get();
        Object hit = last.lookup(raw);
        if (hit != null) {
            return (Row) hit;
        }
        RawRecordParser.Result r = PARSER.parse(raw);
        Object[] v = r.values;
        Row row = r.reason != null
                ? Row.of(r.reason, r.detail, v[1], v[2], v[3], v[4], v[5], v[6], null, null, null, null)
                : Row.of(null, null, v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
        last.store(raw, row);
        return row;
    }
}
