package io.tickflow.bars;

import java.util.List;

/**
 * The state of one symbol's bar book: its 1m bars by bucket start, its roll-ups (5m, 15m, 1h, 1d) by
 * "timeframe|bucket_start", the identities of the trades taken into 1m bars not yet forgotten (with their
 * minute), and the watermark through which bars have been forgotten. The operator backs it with keyed
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

    /** The 1m bucket start of the taken trade with this identity ({@link TradeIdentity}), or null. */
    Long takenMinute(String identity);

    void take(String identity, long minuteStart, long seq);

    /** Forget the identities of every trade taken into a minute starting at or before {@code minuteStart},
     *  telling {@code forgotten} each one's identity and seq. */
    void forgetTakenThrough(long minuteStart, Forgotten forgotten);

    /** Receives the trades {@link #forgetTakenThrough} forgets. */
    interface Forgotten {
        void trade(String identity, long seq);
    }

    /** The seqs of this source's forgotten trades ({@link SeqRanges}), or null. */
    long[] forgottenSeqs(String source);

    void setForgottenSeqs(String source, long[] ranges);

    /** The watermark (ms) at which this book last forgot what was due: any input older than it is LATE. */
    long closedThroughMs();

    void setClosedThroughMs(long ms);
}
