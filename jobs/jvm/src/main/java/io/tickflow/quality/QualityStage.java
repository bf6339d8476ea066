package io.tickflow.quality;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * The JVM stage of the data-quality job, callable from the PyFlink driver: stragglers batched per window.
 * It returns a DataStream, not a Table: a Table made from a DataStream drops the watermarks unless it
 * declares a rowtime column, and the Python tracker after it runs on event-time timers.
 */
public final class QualityStage {
    private QualityStage() {
    }

    /**
     * @param rows     the SQL stage's rows ({@link QualityRows#FIELDS})
     * @param windowNs the quality window's length (ns)
     * @param flushMs  the longest a batch waits for the watermark to advance
     * @param uid      the operator's stable uid, for savepoints
     */
    public static DataStream<Row> batched(StreamTableEnvironment tEnv, Table rows, long windowNs, long flushMs,
                                          String uid) {
        return tEnv.toDataStream(rows)
                .keyBy(r -> {
                    String symbol = r.getFieldAs("symbol");
                    return symbol == null ? "?" : symbol;
                }, Types.STRING)
                .process(new StragglerBatcher(windowNs, flushMs), QualityRows.TYPE)
                .uid(uid)
                .name("straggler batches");
    }
}
