package io.tickflow.quality;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Keyed by symbol, in front of the data-quality job's Python tracker: window rows pass straight through;
 * stragglers (records that reached the job after their window closed) are gathered per
 * (kind, source, reason, window) and sent on as one row with their count when the watermark next advances,
 * or after {@code flushMs} of processing time when it does not. A flood of late records — a replay of
 * data already seen, every record a DUPLICATE — thus costs the Python operator one row per window and
 * reason instead of one per record. Batches live in keyed state, so a checkpoint holds them.
 */
public class StragglerBatcher extends KeyedProcessFunction<String, Row, Row> {
    private static final long serialVersionUID = 1L;
    public static final String STATE_NAME = "stragglers-v1";

    private final long windowNs;
    private final long flushMs;
    private transient MapState<String, Straggler> batch;
    /** The flush timers set for the batch: (event time, processing time); null while the batch is empty. */
    private transient ValueState<Tuple2<Long, Long>> timers;

    public StragglerBatcher(long windowNs, long flushMs) {
        this.windowNs = windowNs;
        this.flushMs = flushMs;
    }

    @Override
    public void open(OpenContext ctx) {
        batch = getRuntimeContext().getMapState(
                new MapStateDescriptor<>(STATE_NAME, Types.STRING, TypeInformation.of(Straggler.class)));
        timers = getRuntimeContext().getState(
                new ValueStateDescriptor<>(STATE_NAME + "-timers", Types.TUPLE(Types.LONG, Types.LONG)));
    }

    @Override
    public void processElement(Row row, Context ctx, Collector<Row> out) throws Exception {
        if (!QualityRows.isStraggler(row)) {
            out.collect(QualityRows.copy(row));
            return;
        }
        Straggler s = QualityRows.straggler(row, windowNs);
        String key = s.batchKey();
        Straggler before = batch.get(key);
        batch.put(key, before == null ? s : before.merge(s));
        if (timers.value() == null) {
            long watermark = ctx.timerService().currentWatermark();
            long eventTime = watermark == Long.MAX_VALUE ? watermark : watermark + 1;
            long processingTime = ctx.timerService().currentProcessingTime() + flushMs;
            ctx.timerService().registerEventTimeTimer(eventTime);
            ctx.timerService().registerProcessingTimeTimer(processingTime);
            timers.update(Tuple2.of(eventTime, processingTime));
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
        Tuple2<Long, Long> set = timers.value();
        if (set == null) {
            return;
        }
        ctx.timerService().deleteEventTimeTimer(set.f0);
        ctx.timerService().deleteProcessingTimeTimer(set.f1);
        timers.clear();
        List<Map.Entry<String, Straggler>> entries = new ArrayList<>();
        for (Map.Entry<String, Straggler> e : batch.entries()) {
            entries.add(e);
        }
        entries.sort(Map.Entry.comparingByKey());
        batch.clear();
        for (Map.Entry<String, Straggler> e : entries) {
            out.collect(QualityRows.row(e.getValue()));
        }
    }
}
