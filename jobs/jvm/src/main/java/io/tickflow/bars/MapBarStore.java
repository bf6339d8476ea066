package io.tickflow.bars;

import io.tickflow.trades.MapTakenStore;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A {@link BarStore} in plain maps: the bar book's state outside Flink (unit tests, reference runs). */
public final class MapBarStore implements BarStore {
    private final Map<Long, Bar> minutes = new HashMap<>();
    private final Map<String, Bar> rollups = new HashMap<>();
    private final MapTakenStore taken = new MapTakenStore();
    private long closedThroughMs = Long.MIN_VALUE;

    @Override
    public MapTakenStore taken() {
        return taken;
    }

    @Override
    public Bar minute(long bucketStart) {
        return minutes.get(bucketStart);
    }

    @Override
    public void putMinute(Bar bar) {
        minutes.put(bar.bucketStart, bar);
    }

    @Override
    public Bar rollup(String key) {
        return rollups.get(key);
    }

    @Override
    public void putRollup(Bar bar) {
        rollups.put(bar.key(), bar);
    }

    @Override
    public void remove(Bar bar) {
        if (bar.timeframe.equals("1m")) {
            minutes.remove(bar.bucketStart);
        } else {
            rollups.remove(bar.key());
        }
    }

    @Override
    public List<Bar> all() {
        List<Bar> out = new ArrayList<>(minutes.values());
        out.addAll(rollups.values());
        return out;
    }

    @Override
    public long closedThroughMs() {
        return closedThroughMs;
    }

    @Override
    public void setClosedThroughMs(long ms) {
        closedThroughMs = ms;
    }
}
