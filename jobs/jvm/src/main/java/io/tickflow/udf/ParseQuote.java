package io.tickflow.udf;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.types.Row;

import static io.tickflow.udf.RawRecordParser.Field;
import static io.tickflow.udf.RawRecordParser.Kind;

/** PARSE_QUOTE(raw BYTES): an md.raw.quotes record as typed columns, or reason/detail when it is not one. */
public class ParseQuote extends RawRecordFunction {

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

    private static final int[] OUTPUT = new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    private static final boolean[] VALID_ONLY = new boolean[] {false, false, false, false, false, false, true, true, true, true};

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
            + "ts_event BIGINT, ts_recv BIGINT, seq BIGINT, bid DECIMAL(18, 9), bid_size DECIMAL(18, 9), "
            + "ask DECIMAL(18, 9), ask_size DECIMAL(18, 9)>")
    public Row eval(byte[] raw) {
        return parse(raw);
    }
}
