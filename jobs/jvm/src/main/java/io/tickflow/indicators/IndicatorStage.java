package io.tickflow.indicators;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * The indicators job's keyed stage, callable from the PyFlink driver: md.bars records (k, payload,
 * kafka_partition, kafka_offset) in; md.indicators rows and md.dlq rows (k, v) out, all in the JVM.
 */
public final class IndicatorStage {
    /** The md.indicators rows and the md.dlq rows of one stage. */
    public static final class Outputs {
        private final Table indicators;
        private final Table deadLetters;

        Outputs(Table indicators, Table deadLetters) {
            this.indicators = indicators;
            this.deadLetters = deadLetters;
        }

        public Table indicatorTable() {
            return indicators;
        }

        public Table deadLetterTable() {
            return deadLetters;
        }
    }

    private IndicatorStage() {
    }

    /**
     * @param bars            md.bars as raw records: k, payload, kafka_partition, kafka_offset
     * @param calendars       trading sessions per calendar, "CAL=open:close,…;CAL=…" (ns)
     * @param symbolCalendars "SYMBOL=CAL,…" (symbols without one use UTC days)
     * @param maxWholeBytes   a dead letter carries an original up to this size whole (tickflow/runtime/dead_letter.py)
     * @param prefixBytes     … and the first this many bytes of a larger one
     * @param detailMaxChars  … and at most this much of the detail
     * @param uid             the operator's stable uid, for savepoints
     */
    public static Outputs series(StreamTableEnvironment tEnv, Table bars, int indicatorSet, int keepBars,
                                 int stateTtlDays, String calendars, String symbolCalendars,
                                 String pipelineVersion, String component, int maxWholeBytes, int prefixBytes,
                                 int detailMaxChars, String uid) {
        IndicatorBook book = new IndicatorBook(
                new IndicatorBook.Settings(indicatorSet, keepBars, pipelineVersion, component,
                        new IndicatorRecords.Limits(maxWholeBytes, prefixBytes, detailMaxChars)),
                SymbolDays.parse(calendars, symbolCalendars));
        SingleOutputStreamOperator<Row> out = tEnv.toDataStream(bars)
                .keyBy(r -> IndicatorBook.seriesKey(r.getFieldAs("k")), Types.STRING)
                .process(new IndicatorFunction(book, stateTtlDays), IndicatorFunction.RECORD)
                .uid(uid)
                .name("indicator series (JVM)");
        return new Outputs(tEnv.fromDataStream(out), tEnv.fromDataStream(out.getSideOutput(IndicatorFunction.DEAD_LETTERS)));
    }
}
