package io.tickflow.udf;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.types.Row;

import static io.tickflow.udf.RawRecordParser.Field;
import static io.tickflow.udf.RawRecordParser.Kind;

/** PARSE_TRADE(raw BYTES): an md.raw.trades record as typed columns, or reason/detail when it is not one. */
public class ParseTrade extends RawRecordFunction {

    private static final RawRecordParser PARSER = new RawRecordParser(
            new Field("v", Kind.VERSION, true, 0, 0),
            new Field("source", Kind.STRING, true, 32, 1),
            new Field("symbol", Kind.STRING, true, 32, 2),
            new Field("venue", Kind.STRING, false, 16, 3),
            new Field("ts_event", Kind.LONG, true, 0, 4),
            new Field("ts_recv", Kind.LONG, true, 0, 5),
            new Field("seq", Kind.LONG, true, 0, 6),
            new Field("price", Kind.DECIMAL, true, 0, 7),
            new Field("size", Kind.DECIMAL, true, 0, 8),
            new Field("trade_id", Kind.STRING, false, 64, 9),
            new Field("conditions", Kind.STRING_ARRAY, false, 0, 10));

    private static final int[] OUTPUT = new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9};
    private static final boolean[] VALID_ONLY = new boolean[] {false, false, false, false, false, false, true, true, false};

    @Override
    RawRecordParser parser() {
        return PARSER;
    }

    @Override
    int[] output() {
        return OUTPUT;
    }

    @Override
    boolean[] validOnly() {
        return VALID_ONLY;
    }

    @DataTypeHint("ROW<reason STRING, detail STRING, source STRING, symbol STRING, venue STRING, "
            + "ts_event BIGINT, ts_recv BIGINT, seq BIGINT, price DECIMAL(18, 9), size DECIMAL(18, 9), trade_id STRING>")
    public Row eval(byte[] raw) {
        return parse(raw);
    }
}
