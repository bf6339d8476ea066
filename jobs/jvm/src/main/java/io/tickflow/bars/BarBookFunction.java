package io.tickflow.bars;

import io.tickflow.trades.TakenState;
import io.tickflow.trades.TakenTrades;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.TimerService;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The keyed operator around {@link BarBook}: one book per symbol in keyed state (v2 of the layout: 1m bars
 * by bucket start, roll-ups by "symbol|timeframe|bucket_start", the identities of the trades taken into the
 * 1m bars held, the watermark the book last forgot at), event-time timers for emission and expiry, md.bars
 * rows out, and DUPLICATE and LATE trades to a side output with everything their dead letter needs.
 *
 * <p>Flink does not restore watermarks: after a restart the operator's watermark starts from nothing until
 * every input has sent one again. Trades read in that moment are judged by the watermark of the last
 * checkpoint instead (operator state, the lowest of the subtasks'), and by their key's forgotten-through
 * watermark, so a restart does not change which trades are LATE.
 */
public class BarBookFunction extends KeyedProcessFunction<String, Row, Row> implements CheckpointedFunction {
    private static final long serialVersionUID = 2L;
    public static final String MINUTES_STATE = "minute-bars-v2";
    public static final String ROLLUPS_STATE = "rollup-bars-v2";
    public static final String CLOSED_STATE = "closed-through-ms-v2";
    public static final String WATERMARK_STATE = "checkpointed-watermark-ms-v2";
    /** Refused trades ({@link RefusedTrades}): the bar book's DUPLICATE and LATE. */
    public static final OutputTag<Row> REFUSED = new OutputTag<>("refused-trades", RefusedTrades.TYPE) {
    };

    private final Map<String, TradingSessions> sessionsByVenue;
    private final long latenessMs;
    private transient MapState<Long, Bar> minutes;
    private transient MapState<String, Bar> rollups;
    private transient ValueState<Long> closedThrough;
    private transient TakenState taken;
    private transient BarBook book;
    private transient Counter revisions;
    private transient Counter late;
    private transient Counter duplicates;
    /** Seconds from the end of the latest bar this subtask emitted (revision 0) to its emission; NaN before. */
    private transient volatile double latencySeconds;
    private transient String key;
    private transient ListState<Long> watermarkState;
    private transient long restoredWatermarkMs = Long.MIN_VALUE;
    private transient long seenWatermarkMs = Long.MIN_VALUE;

    public BarBookFunction(Map<String, TradingSessions> sessionsByVenue, long latenessMs) {
        this.sessionsByVenue = new HashMap<>(sessionsByVenue);
        this.latenessMs = latenessMs;
    }

    @Override
    public void open(OpenContext ctx) {
        TypeInformation<Bar> bar = TypeInformation.of(Bar.class);
        minutes = getRuntimeContext().getMapState(new MapStateDescriptor<>(MINUTES_STATE, Types.LONG, bar));
        rollups = getRuntimeContext().getMapState(new MapStateDescriptor<>(ROLLUPS_STATE, Types.STRING, bar));
        closedThrough = getRuntimeContext().getState(new ValueStateDescriptor<>(CLOSED_STATE, Types.LONG));
        taken = new TakenState(getRuntimeContext());
        book = new BarBook(new StateStore(), latenessMs, sessionsByVenue);
        // Prometheus: ..._operator_tickflow_bar_revisions, ..._tickflow_late_trades,
        // ..._tickflow_duplicate_trades and ..._tickflow_bar_latency_seconds
        MetricGroup metrics = getRuntimeContext().getMetricGroup().addGroup("tickflow");
        revisions = metrics.counter("bar_revisions");
        late = metrics.counter("late_trades");
        duplicates = metrics.counter("duplicate_trades");
        latencySeconds = Double.NaN;
        metrics.gauge("bar_latency_seconds", (Gauge<Double>) () -> latencySeconds);
    }

    @Override
    public void processElement(Row t, Context ctx, Collector<Row> out) throws Exception {
        key = ctx.getCurrentKey();
        BarBook.Outcome o = book.add(t.getFieldAs("symbol"), t.getFieldAs("source"), t.getFieldAs("venue"),
                t.<Long>getFieldAs("ts_event"), t.<Long>getFieldAs("seq"), t.<String>getFieldAs("trade_id"),
                t.<BigDecimal>getFieldAs("price"), t.<BigDecimal>getFieldAs("size"), watermark(ctx.timerService()));
        if (o.refusal != null) {
            (o.refusal.equals(BarBook.LATE) ? late : duplicates).inc();
            ctx.output(REFUSED, RefusedTrades.row(t, o.refusal, o.detail));
            return;
        }
        if (o.newMinuteDueMs != Long.MIN_VALUE) {
            ctx.timerService().registerEventTimeTimer(o.newMinuteDueMs);
        }
        revisions.inc(o.revised.size());
        for (Bar b : o.revised) {
            out.collect(BarRecords.row(b));
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
        key = ctx.getCurrentKey();
        TimerService timers = ctx.timerService();
        watermark(timers);
        BarBook.Advance a = book.advance(timestamp);
        for (long t : a.timersMs) {
            timers.registerEventTimeTimer(t);
        }
        for (Bar b : a.emitted) {
            if (b.revision > 0) {
                revisions.inc();
            } else {
                latencySeconds = latencySeconds(b.bucketEnd, timers.currentProcessingTime());
            }
            out.collect(BarRecords.row(b));
        }
    }

    /**
     * A bar's latency: the wall clock as it is emitted minus the end of its bucket in event time (both UTC), in
     * seconds. It holds the out-of-orderness the watermark waits for; a replay of old trades shows their age.
     */
    static double latencySeconds(long bucketEndNs, long nowMs) {
        return (nowMs - Math.floorDiv(bucketEndNs, 1_000_000L)) / 1_000.0
                - Math.floorMod(bucketEndNs, 1_000_000L) / 1e9;
    }

    /** The watermark trades are judged by: the operator's, or the last checkpoint's while it is behind it. */
    private long watermark(TimerService timers) {
        long current = timers.currentWatermark();
        seenWatermarkMs = Math.max(seenWatermarkMs, current);
        return Math.max(current, restoredWatermarkMs);
    }

    @Override
    public void snapshotState(FunctionSnapshotContext ctx) throws Exception {
        watermarkState.update(List.of(Math.max(seenWatermarkMs, restoredWatermarkMs)));
    }

    @Override
    public void initializeState(FunctionInitializationContext ctx) throws Exception {
        watermarkState = ctx.getOperatorStateStore().getUnionListState(
                new ListStateDescriptor<>(WATERMARK_STATE, Types.LONG));
        long lowest = Long.MAX_VALUE;
        for (Long w : watermarkState.get()) {
            if (w != null && w != Long.MIN_VALUE) {
                lowest = Math.min(lowest, w);
            }
        }
        restoredWatermarkMs = lowest == Long.MAX_VALUE ? Long.MIN_VALUE : lowest;
    }

    private String currentKey() {
        return key;
    }

    private static <T> T state(TakenState.StateCall<T> call) {
        return TakenState.call(call);
    }

    /**
     * The book's store in this key's state. The forgotten-through watermark is read once per key and then
     * held in memory beside the state it mirrors (written through), so a trade costs one state read and one
     * write, of its minute.
     */
    private final class StateStore implements BarStore {
        private final Map<String, Long> closedCache = new HashMap<>();

        @Override
        public Bar minute(long bucketStart) {
            return state(() -> minutes.get(bucketStart));
        }

        @Override
        public void putMinute(Bar bar) {
            state(() -> {
                minutes.put(bar.bucketStart, bar);
                return null;
            });
        }

        @Override
        public Bar rollup(String key) {
            return state(() -> rollups.get(key));
        }

        @Override
        public void putRollup(Bar bar) {
            state(() -> {
                rollups.put(bar.key(), bar);
                return null;
            });
        }

        @Override
        public void remove(Bar bar) {
            state(() -> {
                if (bar.timeframe.equals("1m")) {
                    minutes.remove(bar.bucketStart);
                } else {
                    rollups.remove(bar.key());
                }
                return null;
            });
        }

        @Override
        public List<Bar> all() {
            return state(() -> {
                List<Bar> out = new ArrayList<>();
                minutes.values().forEach(out::add);
                rollups.values().forEach(out::add);
                return out;
            });
        }

        @Override
        public TakenTrades.Store taken() {
            return taken;
        }

        @Override
        public long closedThroughMs() {
            return closedCache.computeIfAbsent(currentKey(), k -> {
                Long v = state(() -> closedThrough.value());
                return v == null ? Long.MIN_VALUE : v;
            });
        }

        @Override
        public void setClosedThroughMs(long ms) {
            state(() -> {
                closedThrough.update(ms);
                return null;
            });
            closedCache.put(currentKey(), ms);
        }
    }
}
