package io.tickflow.trades;

import java.util.HashMap;
import java.util.Map;

/** {@link TakenTrades.Store} in plain maps: outside Flink (unit tests, reference runs). */
public final class MapTakenStore implements TakenTrades.Store {
    private final Map<String, long[]> taken = new HashMap<>();
    private final Map<String, long[]> forgottenSeqs = new HashMap<>();

    @Override
    public Long takenMinute(String identity) {
        long[] t = taken.get(identity);
        return t == null ? null : t[0];
    }

    @Override
    public void take(String identity, long minuteStart, long seq) {
        taken.put(identity, new long[] {minuteStart, seq});
    }

    @Override
    public void forgetTakenThrough(long minuteStart, TakenTrades.Forgotten forgotten) {
        taken.entrySet().removeIf(e -> {
            if (e.getValue()[0] > minuteStart) {
                return false;
            }
            forgotten.trade(e.getKey(), e.getValue()[1]);
            return true;
        });
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
}
