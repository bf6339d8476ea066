package io.tickflow.bars;

import io.tickflow.trades.TakenTrades;

import java.util.List;

/**
 * The state of one symbol's bar book: its 1m bars by bucket start, its roll-ups (5m, 15m, 1h, 1d) by
 * "timeframe|bucket_start", the trades taken into the 1m bars held ({@link TakenTrades}), and the watermark
 * through which bars have been forgotten. The operator backs it with keyed
 * state; tests with maps ({@link MapBarStore}).
 */
public interface BarStore {
    Bar minute(long bucketStart);

    void putMinute(Bar bar);

    Bar rollup(String key);

    void putRollup(Bar bar);

    void remove(Bar bar);

    /** Every bar held, 1m and roll-ups, as a list the caller may keep while it changes the store. */
    List<Bar> all();

    /** The identities and seqs of the trades taken into the 1m bars held. */
    TakenTrades.Store taken();

    /** The watermark (ms) at which this book last forgot what was due: any input older than it is LATE. */
    long closedThroughMs();

    void setClosedThroughMs(long ms);
}
