package io.tickflow.trades;

/**
 * A trade's identity within its symbol: {@code (source, trade_id)}, or {@code (source, seq)} where the record
 * carries no trade id. Providers number trades per symbol, so the symbol (the bar book's key) completes it.
 * jobs/raw_trades.py {@code identity} is the same definition for Python.
 */
public final class TradeIdentity {
    private TradeIdentity() {
    }

    /** The identity as one string: the two kinds can never be equal (an id is never taken for a seq). */
    public static String of(String source, String tradeId, long seq) {
        return tradeId != null ? source + "\u0000i" + tradeId : source + "\u0000s" + seq;
    }

    /** The source of an identity made by {@link #of}. */
    public static String sourceOf(String identity) {
        return identity.substring(0, identity.indexOf('\u0000'));
    }

    /** "id X" or "seq N", for a dead letter's detail. */
    public static String describe(String tradeId, long seq) {
        return tradeId != null ? "id " + tradeId : "seq " + seq;
    }
}
