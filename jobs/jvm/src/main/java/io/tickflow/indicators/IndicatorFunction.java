package io.tickflow.indicators;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The keyed operator around {@link IndicatorBook}: one series per {@code symbol|timeframe}, its state
 * ({@link IndicatorSeries#toBytes}) in one ValueState with a TTL; md.indicators rows out, refused bars'
 * md.dlq rows to a side output. Metrics {@code bars_applied} and {@code bars_refused} on the operator.
 *
 * <p>The series last written for a key stays decoded beside its bytes (for the {@value #DECODED} keys used
 * last): when the state backend hands back those very bytes (a heap backend does; RocksDB hands a copy),
 * the step takes the decoded series instead of reading the bytes again. Bytes written are never changed,
 * so the same array means the same series.
 */
public class IndicatorFunction extends KeyedProcessFunction<String, Row, Row> {
    private static final long serialVersionUID = 1L;
    /** The keyed state's name; its layout is {@link IndicatorSeries#LAYOUT}. */
    public static final String STATE_NAME = "series-jvm-v1";
    /** Rows of a Kafka raw sink: k, v. */
    public static final TypeInformation<Row> RECORD = Types.ROW_NAMED(new String[] {"k", "v"},
            PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);
    /** md.dlq records of refused bars. */
    public static final OutputTag<Row> DEAD_LETTERS = new OutputTag<>("refused-bars", RECORD) {
    };

    /** How many keys' series stay decoded. */
    static final int DECODED = 2048;

    private final IndicatorBook book;
    private final int stateTtlDays;
    private transient ValueState<byte[]> state;
    private transient Counter applied;
    private transient Counter refused;
    private transient Map<String, Decoded> decoded;

    /** A series and the state bytes it was written as. */
    private record Decoded(byte[] state, IndicatorSeries series) {
    }

    public IndicatorFunction(IndicatorBook book, int stateTtlDays) {
        this.book = book;
        this.stateTtlDays = stateTtlDays;
    }

    @Override
    public void open(OpenContext ctx) {
        ValueStateDescriptor<byte[]> descriptor =
                new ValueStateDescriptor<>(STATE_NAME, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);
        descriptor.enableTimeToLive(StateTtlConfig.newBuilder(Duration.ofDays(stateTtlDays)).build());
        state = getRuntimeContext().getState(descriptor);
        applied = getRuntimeContext().getMetricGroup().counter("bars_applied");
        refused = getRuntimeContext().getMetricGroup().counter("bars_refused");
        decoded = new LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Decoded> eldest) {
                return size() > DECODED;
            }
        };
    }

    @Override
    public void processElement(Row row, Context ctx, Collector<Row> out) throws Exception {
        Instant now = Instant.now();
        String key = ctx.getCurrentKey();
        byte[] current = state.value();
        Decoded kept = decoded.get(key);
        IndicatorSeries series = kept != null && current != null && kept.state() == current ? kept.series() : null;
        IndicatorBook.Step step = book.apply(key, row.getFieldAs("k"), row.getFieldAs("payload"),
                row.getFieldAs("kafka_partition"), row.getFieldAs("kafka_offset"), current, series,
                now.getEpochSecond() * 1_000_000_000L + now.getNano());
        if (step.deadLetter != null) {
            refused.inc();
            ctx.output(DEAD_LETTERS, Row.of(step.deadLetter.key, step.deadLetter.value));
            return;
        }
        state.update(step.state);
        decoded.put(key, new Decoded(step.state, step.series));
        applied.inc();
        for (IndicatorBook.Out o : step.indicators) {
            out.collect(Row.of(o.key, o.value));
        }
    }
}
