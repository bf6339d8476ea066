package io.tickflow.trades;

import java.util.HashMap;
import java.util.Map;

/**
 * Duplicate detection for one symbol, bounded by its series and driven by event time: the identities
 * ({@link TradeIdentity}) of the trades taken into minutes not yet forgotten, and the seqs of forgotten
 * trades as ranges per source ({@link SeqRanges}). The owner forgets a minute when the watermark passes it
 * plus the allowed lateness; from then on a trade of that minute is too old to judge by identity, and its
 * seq tells a re-send (DUPLICATE) from a trade that never came. Pure logic over a {@link Store}.
 */
public final class TakenTrades {
    /**
     * Where the identities and ranges live: keyed state in an operator, maps in tests. Each trade taken into a
     * minute has a slot there (0, 1, 2 … in the order they were taken), so a minute is forgotten by point
     * look-ups of its slots, never by scanning what else is held.
     */
    public interface Store {
        /** The 1m bucket start of the taken trade with this identity, or null. */
        Long takenMinute(String identity);

        /** Hold the identity, in slot {@code slot} of its minute. */
        void take(String identity, long minuteStart, long seq, long slot);

        /** Forget the trades in slots 0 … {@code slots} − 1 of the minute, telling {@code forgotten} each one's
         *  identity and seq. */
        void forgetMinute(long minuteStart, long slots, Forgotten forgotten);

        /** The seqs of this source's forgotten trades, or null. */
        long[] forgottenSeqs(String source);

        void setForgottenSeqs(String source, long[] ranges);
    }

    /** Receives the trades {@link Store#forgetMinute} forgets. */
    public interface Forgotten {
        void trade(String identity, long seq);
    }

    private TakenTrades() {
    }

    /** Take a trade of a minute still held, as the minute's {@code slot}-th trade (the number taken into it
     *  before): null when it is new (and now taken), else the DUPLICATE detail. */
    public static String take(Store store, String source, String symbol, String tradeId, long seq,
                              long minuteStart, long slot) {
        String identity = TradeIdentity.of(source, tradeId, seq);
        Long takenIn = store.takenMinute(identity);
        if (takenIn != null) {
            return "trade " + source + " " + symbol + " " + TradeIdentity.describe(tradeId, seq)
                    + " already taken into the 1m bar of " + takenIn;
        }
        store.take(identity, minuteStart, seq, slot);
        return null;
    }

    /** For a trade of a forgotten minute: the DUPLICATE detail when its seq was taken before, else null. */
    public static String forgottenRepeat(Store store, String source, String symbol, String tradeId, long seq) {
        return SeqRanges.contains(store.forgottenSeqs(source), seq)
                ? "trade " + source + " " + symbol + " " + TradeIdentity.describe(tradeId, seq) + " (seq " + seq
                        + ") was taken before its minute closed"
                : null;
    }

    /** Forget the {@code slots} trades taken into a minute, keeping their seqs. */
    public static void forgetMinute(Store store, long minuteStart, long slots) {
        Map<String, long[]> seqs = new HashMap<>();
        store.forgetMinute(minuteStart, slots, (identity, seq) -> {
            String source = TradeIdentity.sourceOf(identity);
            seqs.put(source, SeqRanges.add(seqs.computeIfAbsent(source, store::forgottenSeqs), seq));
        });
        seqs.forEach(store::setForgottenSeqs);
    }
}
