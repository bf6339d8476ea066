package io.tickflow.bars;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * The bar stage of the market data processor, callable from the PyFlink driver: the SQL stage's 1m parts
 * (with their rowtime and watermarks) in, md.bars rows out, all in the JVM.
 */
public final class BarStage {
    private BarStage() {
    }

    /**
     * @param parts       the minute_parts table (symbol, venue, o, h, l, c, volume, notional, trade_count,
     *                    open_ts, open_seq, close_ts, close_seq, sources, rt as rowtime)
     * @param sessionSpec trading sessions per venue, "VENUE=open:close,…;VENUE=…" (ns)
     * @param uid         the operator's stable uid, for savepoints
     */
    public static Table bars(StreamTableEnvironment tEnv, Table parts, String sessionSpec, long latenessMs,
                             String uid) {
        DataStream<Row> in = tEnv.toDataStream(parts);
        DataStream<Row> out = in
                .keyBy(r -> r.<String>getFieldAs("symbol"), Types.STRING)
                .process(new BarBookFunction(TradingSessions.parseByVenue(sessionSpec), latenessMs), BarRecords.TYPE)
                .uid(uid)
                .name("bar book: 1m revisions and roll-ups");
        return tEnv.fromDataStream(out);
    }
}
