package io.tickflow.bars;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * The bar stage of the market data processor, callable from the PyFlink driver: accepted trades (with their
 * rowtime and watermarks) in; md.bars rows and LATE trades out, all in the JVM.
 */
public final class BarStage {
    /** The bar rows (for md.bars) and the LATE trades (for md.dlq) of one stage. */
    public static final class Outputs {
        private final Table bars;
        private final Table late;

        Outputs(Table bars, Table late) {
            this.bars = bars;
            this.late = late;
        }

        /** md.bars rows (BarRecords). */
        public Table barTable() {
            return bars;
        }

        /** LATE trades (LateTrades). */
        public Table lateTable() {
            return late;
        }
    }

    private BarStage() {
    }

    /**
     * @param trades      accepted trades: k, payload, kafka_partition, kafka_offset, source, symbol, venue,
     *                    ts_event, seq, price, size, and a rowtime
     * @param sessionSpec trading sessions per venue, "VENUE=open:close,…;VENUE=…" (ns)
     * @param uid         the operator's stable uid, for savepoints
     */
    public static Outputs bars(StreamTableEnvironment tEnv, Table trades, String sessionSpec, long latenessMs,
                               String uid) {
        SingleOutputStreamOperator<Row> bars = tEnv.toDataStream(trades)
                .keyBy(r -> r.<String>getFieldAs("symbol"), Types.STRING)
                .process(new BarBookFunction(TradingSessions.parseByVenue(sessionSpec), latenessMs), BarRecords.TYPE)
                .uid(uid)
                .name("bar book: lateness, 1m bars, revisions and roll-ups");
        return new Outputs(tEnv.fromDataStream(bars), tEnv.fromDataStream(bars.getSideOutput(BarBookFunction.LATE)));
    }
}
