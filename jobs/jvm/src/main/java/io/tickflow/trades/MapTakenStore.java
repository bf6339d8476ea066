package io.tickflow.trades;

import java.util.HashMap;
import java.util.Map;

/** {@link TakenTrades.Store} in plain maps: outside Flink (unit tests, reference runs). */
public final class MapTakenStore implements TakenTrades.Store {
    private final Map<String, long[]> taken = new HashMap<>();
    private final Map<String, long[]> forgottenSeqs = new HashMap<>();
    private final Map<String, String> slots = new HashMap<>();

    private static String slotKey(long minuteStart, long slot) {
        return minuteStart + "/" + slot;
    }

    @Override
    public Long takenMinute(String identity) {
        long[] t = taken.get(identity);
        return t == null ? null : t[0];
    }

    @Override
    public void take(String identity, long minuteStart, long seq, long slot) {
        taken.put(identity, new long[] {minuteStart, seq});
        slots.put(slotKey(minuteStart, slot), identity);
    }

    @Override
    public void forgetMinute(long minuteStart, long count, TakenTrades.Forgotten forgotten) {
        for (long i = 0; i < count; i++) {
            String identity = slots.remove(slotKey(minuteStart, i));
            long[] t = identity == null ? null : taken.remove(identity);
            if (t != null) {
                forgotten.trade(identity, t[1]);
            }
        }
    }

    @Override
    public long[] forgottenSeqs(String source) {
        return forgottenSeqs.get(source);
    }

    @Override
    public void setForgottenSeqs(String source, long[] ranges) {
        forgottenSeqs.put(source, ranges);
    }

    /** How many trade identities are held: the duplicate window's size. */
    public int takenCount() {
        return taken.size();
    }

    /** How many slots are held (equal to {@link #takenCount()} when every forgotten minute was cleared). */
    public int slotCount() {
        return slots.size();
    }
}
