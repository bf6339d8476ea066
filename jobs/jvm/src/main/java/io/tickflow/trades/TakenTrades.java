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
    /** Where the identities and ranges live: keyed state in an operator, maps in tests. */
    public interface Store {
        /** The 1m bucket start of the taken trade with this identity, or null. */
        Long takenMinute(String identity);

        void take(String identity, long minuteStart, long seq);

        /** Forget every trade taken into a minute starting at or before {@code minuteStart}, telling
         *  {@code forgotten} each one's identity and seq. */
        void forgetTakenThrough(long minuteStart, Forgotten forgotten);

        /** The seqs of this source's forgotten trades, or null. */
        long[] forgottenSeqs(String source);

        void setForgottenSeqs(String source, long[] ranges);
    }

    /** Receives the trades {@link Store#forgetTakenThrough} forgets. */
    public interface Forgotten {
        void trade(String identity, long seq);
    }

    private TakenTrades() {
    }

    /** Take a trade of a minute still held: null when it is new (and now taken), else the DUPLICATE detail. */
    public static String take(Store store, String source, String symbol, String tradeId, long seq,
                              long minuteStart) {
        String identity = TradeIdentity.of(source, tradeId, seq);
        Long takenIn = store.takenMinute(identity);
        if (takenIn != null) {
            return "trade " + source + " " + symbol + " " + TradeIdentity.describe(tradeId, seq)
                    + " already taken into the 1m bar of " + takenIn;
        }
        store.take(identity, minuteStart, seq);
        return null;
    }

    /** For a trade of a forgotten minute: the DUPLICATE detail when its seq was taken before, else null. */
    public static String forgottenRepeat(Store store, String source, String symbol, String tradeId, long seq) {
        return SeqRanges.contains(store.forgottenSeqs(source), seq)
                ? "trade " + source + " " + symbol + " " + TradeIdentity.describe(tradeId, seq) + " (seq " + seq
                        + ") was taken before its minute closed"
                : null;
    }

    /** Forget the trades of every minute starting at or before {@code minuteStart}, keeping their seqs. */
    public static void forgetThrough(Store store, long minuteStart) {
        Map<String, long[]> seqs = new HashMap<>();
        store.forgetTakenThrough(minuteStart, (identity, seq) -> {
            String source = TradeIdentity.sourceOf(identity);
            seqs.put(source, SeqRanges.add(seqs.computeIfAbsent(source, store::forgottenSeqs), seq));
        });
        seqs.forEach(store::setForgottenSeqs);
    }
}
