package io.tickflow.trades;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * The duplicate check of the jobs that read md.raw.trades beside the processor (quality, storage), keyed by
 * symbol, by the bar book's rules ({@link TakenTrades}): a trade's identity is held until the watermark passes
 * its minute plus the allowed lateness. A trade of a minute already forgotten is a DUPLICATE when its seq was
 * taken before, and passes otherwise (these jobs keep late trades; the processor calls them LATE). Rows keep
 * their fields; a DUPLICATE leaves on {@link #DUPLICATES} with its reason and detail set.
 */
public class FirstCopyFunction extends KeyedProcessFunction<String, Row, Row> {
    private static final long serialVersionUID = 1L;
    public static final String CLOSED_STATE = "forgotten-through-ms-v1";
    public static final String COUNTS_STATE = "taken-per-minute-v1";
    private static final long MINUTE_NS = 60_000_000_000L;

    private final long latenessMs;
    private final OutputTag<Row> duplicates;
    private transient TakenState taken;
    private transient ValueState<Long> forgottenThrough;
    /** Minute start → the trades taken into it (the next free slot). */
    private transient MapState<Long, Long> takenPerMinute;

    public FirstCopyFunction(long latenessMs, OutputTag<Row> duplicates) {
        this.latenessMs = latenessMs;
        this.duplicates = duplicates;
    }

    /** Event time (ms) from which a minute is forgotten: its last millisecond plus the allowed lateness. */
    long expiryMs(long minuteStart) {
        return Math.floorDiv(minuteStart + MINUTE_NS, 1_000_000L) - 1 + latenessMs;
    }

    @Override
    public void open(OpenContext ctx) {
        taken = new TakenState(getRuntimeContext());
        forgottenThrough = getRuntimeContext().getState(new ValueStateDescriptor<>(CLOSED_STATE, Types.LONG));
        takenPerMinute = getRuntimeContext().getMapState(new MapStateDescriptor<>(COUNTS_STATE, Types.LONG, Types.LONG));
    }

    @Override
    public void processElement(Row t, Context ctx, Collector<Row> out) throws Exception {
        String source = t.getFieldAs("source");
        String symbol = t.getFieldAs("symbol");
        String tradeId = t.getFieldAs("trade_id");
        long seq = t.<Long>getFieldAs("seq");
        long minuteStart = Math.floorDiv(t.<Long>getFieldAs("ts_event"), MINUTE_NS) * MINUTE_NS;
        Long through = forgottenThrough.value();
        long judgedAt = Math.max(ctx.timerService().currentWatermark(), through == null ? Long.MIN_VALUE : through);
        String duplicate;
        if (expiryMs(minuteStart) <= judgedAt) {
            duplicate = TakenTrades.forgottenRepeat(taken, source, symbol, tradeId, seq);
        } else {
            Long slots = takenPerMinute.get(minuteStart);
            duplicate = TakenTrades.take(taken, source, symbol, tradeId, seq, minuteStart, slots == null ? 0 : slots);
            if (duplicate == null) {
                takenPerMinute.put(minuteStart, slots == null ? 1 : slots + 1);
                if (slots == null) {
                    ctx.timerService().registerEventTimeTimer(expiryMs(minuteStart));
                }
            }
        }
        if (duplicate == null) {
            out.collect(t);
        } else {
            Row d = Row.copy(t);
            d.setField("reason", "DUPLICATE");
            d.setField("detail", duplicate);
            ctx.output(duplicates, d);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
        // the timer of a minute's expiry: its trades are forgotten
        long minuteStart = (timestamp - latenessMs + 1) * 1_000_000L - MINUTE_NS;
        Long slots = takenPerMinute.get(minuteStart);
        if (slots != null) {
            TakenTrades.forgetMinute(taken, minuteStart, slots);
            takenPerMinute.remove(minuteStart);
        }
        Long through = forgottenThrough.value();
        if (through == null || timestamp > through) {
            forgottenThrough.update(timestamp);
        }
    }
}
