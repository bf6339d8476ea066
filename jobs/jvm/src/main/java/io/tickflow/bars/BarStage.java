package io.tickflow.bars;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * The trade path of the market data processor after the parse and the rules, callable from the PyFlink
 * driver: every checked trade (valid or not, with its rowtime and watermarks) in; md.bars rows and the
 * refused trades (the rules' rejects, DUPLICATE, LATE) out, all in the JVM. The checked trades arrive as one
 * stream, so the raw topic is read and parsed once for bars and dead letters alike.
 */
public final class BarStage {
    /** The bar rows (for md.bars) and the refused trades (for md.dlq) of one stage. */
    public static final class Outputs {
        private final Table bars;
        private final Table refused;

        Outputs(Table bars, Table refused) {
            this.bars = bars;
            this.refused = refused;
        }

        /** md.bars rows (BarRecords). */
        public Table barTable() {
            return bars;
        }

        /** Refused trades (RefusedTrades). */
        public Table refusedTable() {
            return refused;
        }
    }

    /** Sends a trade with a reason (a broken rule) to the refused side output, the rest on. */
    static final class RejectRouter extends ProcessFunction<Row, Row> {
        private static final long serialVersionUID = 1L;

        @Override
        public void processElement(Row t, Context ctx, Collector<Row> out) {
            String reason = t.getFieldAs("reason");
            if (reason == null) {
                out.collect(t);
            } else {
                ctx.output(BarBookFunction.REFUSED, RefusedTrades.row(t, reason, t.getFieldAs("detail")));
            }
        }
    }

    private BarStage() {
    }

    /**
     * @param trades      checked trades: k, payload, kafka_partition, kafka_offset, source, symbol, venue,
     *                    ts_event, seq, trade_id, price, size, reason, detail (reason NULL when valid), and a
     *                    rowtime
     * @param sessionSpec trading sessions per venue, "VENUE=open:close,…;VENUE=…" (ns)
     * @param uid         the bar book's stable uid, for savepoints (the stateless router takes uid + "-router")
     */
    public static Outputs bars(StreamTableEnvironment tEnv, Table trades, String sessionSpec, long latenessMs,
                               String uid) {
        DataStream<Row> checked = tEnv.toDataStream(trades);
        SingleOutputStreamOperator<Row> valid = checked
                .process(new RejectRouter(), checked.getType())
                .uid(uid + "-router")
                .name("rules' rejects to md.dlq");
        SingleOutputStreamOperator<Row> bars = valid
                .keyBy(r -> r.<String>getFieldAs("symbol"), Types.STRING)
                .process(new BarBookFunction(TradingSessions.parseByVenue(sessionSpec), latenessMs), BarRecords.TYPE)
                .uid(uid)
                .name("bar book: duplicates, lateness, 1m bars, revisions and roll-ups");
        DataStream<Row> refused = valid.getSideOutput(BarBookFunction.REFUSED)
                .union(bars.getSideOutput(BarBookFunction.REFUSED));
        return new Outputs(tEnv.fromDataStream(bars), tEnv.fromDataStream(refused));
    }
}
