package io.tickflow.bars;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.TimerService;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The keyed operator around {@link BarBook}: one book per symbol in MapState (v1 of the state layout:
 * "timeframe|bucket_start" → {@link Bar}), event-time timers for emission and expiry, bar records out.
 */
public class BarBookFunction extends KeyedProcessFunction<String, Row, Row> {
    private static final long serialVersionUID = 1L;
    public static final String STATE_NAME = "bars-v1";

    private final Map<String, TradingSessions> sessionsByVenue;
    private final long latenessMs;
    private transient MapState<String, Bar> state;
    private transient Counter revisions;

    public BarBookFunction(Map<String, TradingSessions> sessionsByVenue, long latenessMs) {
        this.sessionsByVenue = new HashMap<>(sessionsByVenue);
        this.latenessMs = latenessMs;
    }

    @Override
    public void open(OpenContext ctx) {
        state = getRuntimeContext().getMapState(
                new MapStateDescriptor<>(STATE_NAME, Types.STRING, TypeInformation.of(Bar.class)));
        // bars re-emitted because late trades reached them (Prometheus: ..._operator_tickflow_bar_revisions)
        revisions = getRuntimeContext().getMetricGroup().addGroup("tickflow").counter("bar_revisions");
    }

    /** A 1m part from a row of the SQL stage's minute_parts view. */
    static Bar partOf(Row r) {
        long openTs = r.<Long>getFieldAs("open_ts");
        return Bar.part(r.getFieldAs("symbol"), Timeframes.intradayStart(openTs, "1m"), r.getFieldAs("o"),
                r.getFieldAs("h"), r.getFieldAs("l"), r.getFieldAs("c"), r.<BigDecimal>getFieldAs("volume"),
                r.<BigDecimal>getFieldAs("notional"), r.<Long>getFieldAs("trade_count"), openTs,
                r.<Long>getFieldAs("open_seq"), r.<Long>getFieldAs("close_ts"), r.<Long>getFieldAs("close_seq"),
                r.getFieldAs("sources"));
    }

    private BarBook load() throws Exception {
        Map<String, Bar> bars = new HashMap<>();
        for (Map.Entry<String, Bar> e : state.entries()) {
            bars.put(e.getKey(), e.getValue());
        }
        return new BarBook(bars, latenessMs);
    }

    private void save(BarBook book, TimerService timers) throws Exception {
        state.clear();
        state.putAll(book.bars());
        for (long t : book.timersMs()) {
            timers.registerEventTimeTimer(t);
        }
    }

    @Override
    public void processElement(Row row, Context ctx, Collector<Row> out) throws Exception {
        String venue = row.getFieldAs("venue");
        TradingSessions days = sessionsByVenue.getOrDefault(venue == null ? "" : venue, TradingSessions.UTC);
        BarBook book = load();
        List<Bar> revised = book.add(partOf(row), days);
        save(book, ctx.timerService());
        revisions.inc(revised.size());
        for (Bar b : revised) {
            out.collect(BarRecords.row(b));
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
        if (state.isEmpty()) {
            return;
        }
        BarBook book = load();
        List<Bar> emitted = book.advance(timestamp);
        save(book, ctx.timerService());
        for (Bar b : emitted) {
            out.collect(BarRecords.row(b));
        }
    }
}
