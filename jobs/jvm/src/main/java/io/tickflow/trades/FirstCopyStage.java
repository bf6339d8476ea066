package io.tickflow.trades;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.util.List;

/**
 * The first stage after the rules for the jobs that read md.raw.trades beside the processor, callable from
 * the PyFlink driver: checked trades (with {@code reason}, {@code detail} and the rowtime {@code rt}) in; the
 * first copies of the valid trades, and the refused ones (the rules' rejects and DUPLICATEs), out as tables
 * with the same columns and {@code rt} still their rowtime with the stream's watermarks.
 */
public final class FirstCopyStage {
    /** The accepted first copies and the refused trades. */
    public static final class Outputs {
        private final Table accepted;
        private final Table refused;

        Outputs(Table accepted, Table refused) {
            this.accepted = accepted;
            this.refused = refused;
        }

        public Table acceptedTable() {
            return accepted;
        }

        public Table refusedTable() {
            return refused;
        }
    }

    private FirstCopyStage() {
    }

    /**
     * @param checked    checked trades; a column {@code rt} is the rowtime, {@code reason} is NULL when valid
     * @param latenessMs how long after a minute's end its trades' identities are held (the processor's allowed
     *                   lateness)
     * @param uid        the duplicate check's stable uid, for savepoints (the router takes uid + "-router")
     */
    public static Outputs split(StreamTableEnvironment tEnv, Table checked, long latenessMs, String uid) {
        List<Column> columns = checked.getResolvedSchema().getColumns();
        DataStream<Row> in = tEnv.toDataStream(checked);
        TypeInformation<Row> type = in.getType();
        OutputTag<Row> refusedTag = new OutputTag<>("refused-trades", type);
        SingleOutputStreamOperator<Row> valid = in.process(new ProcessFunction<Row, Row>() {
            @Override
            public void processElement(Row t, Context ctx, Collector<Row> out) {
                if (t.getField("reason") == null) {
                    out.collect(t);
                } else {
                    ctx.output(refusedTag, t);
                }
            }
        }, type).uid(uid + "-router").name("rules' rejects apart");
        SingleOutputStreamOperator<Row> firstCopies = valid
                .keyBy(r -> r.<String>getFieldAs("symbol"), Types.STRING)
                .process(new FirstCopyFunction(latenessMs, refusedTag), type)
                .uid(uid)
                .name("duplicates: trade identities per symbol in event time");
        DataStream<Row> refused = valid.getSideOutput(refusedTag).union(firstCopies.getSideOutput(refusedTag));
        return new Outputs(withRowtime(tEnv, firstCopies, columns), withRowtime(tEnv, refused, columns));
    }

    /** A table of {@code rows} whose {@code rt} is the rowtime again, with the stream's watermarks. */
    private static Table withRowtime(StreamTableEnvironment tEnv, DataStream<Row> rows, List<Column> columns) {
        Schema.Builder schema = Schema.newBuilder();
        for (Column c : columns) {
            boolean time = c.getDataType().getLogicalType().getTypeRoot()
                    == LogicalTypeRoot.TIMESTAMP_WITH_LOCAL_TIME_ZONE;
            // a time attribute's type, as a plain timestamp: the watermark below makes rt a rowtime again
            schema.column(c.getName(), time ? DataTypes.TIMESTAMP_LTZ(3) : c.getDataType());
        }
        schema.watermark("rt", "SOURCE_WATERMARK()");
        return tEnv.fromDataStream(rows, schema.build());
    }
}
