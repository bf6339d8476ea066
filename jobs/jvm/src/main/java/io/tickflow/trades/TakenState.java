package io.tickflow.trades;

import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;

import java.util.Iterator;
import java.util.Map;

/** {@link TakenTrades.Store} in the current key's state: identity → {minute, seq}, and source → seq ranges. */
public final class TakenState implements TakenTrades.Store {
    public static final String TAKEN_STATE = "taken-trades-v1";
    public static final String FORGOTTEN_STATE = "forgotten-seqs-v1";
    private static final TypeInformation<long[]> LONGS = PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO;

    private final MapState<String, long[]> taken;
    private final MapState<String, long[]> forgotten;

    public TakenState(RuntimeContext ctx) {
        taken = ctx.getMapState(new MapStateDescriptor<>(TAKEN_STATE, Types.STRING, LONGS));
        forgotten = ctx.getMapState(new MapStateDescriptor<>(FORGOTTEN_STATE, Types.STRING, LONGS));
    }

    @Override
    public Long takenMinute(String identity) {
        long[] t = call(() -> taken.get(identity));
        return t == null ? null : t[0];
    }

    @Override
    public void take(String identity, long minuteStart, long seq) {
        call(() -> {
            taken.put(identity, new long[] {minuteStart, seq});
            return null;
        });
    }

    @Override
    public void forgetTakenThrough(long minuteStart, TakenTrades.Forgotten out) {
        call(() -> {
            Iterator<Map.Entry<String, long[]>> it = taken.iterator();
            while (it.hasNext()) {
                Map.Entry<String, long[]> e = it.next();
                if (e.getValue()[0] <= minuteStart) {
                    out.trade(e.getKey(), e.getValue()[1]);
                    it.remove();
                }
            }
            return null;
        });
    }

    @Override
    public long[] forgottenSeqs(String source) {
        return call(() -> forgotten.get(source));
    }

    @Override
    public void setForgottenSeqs(String source, long[] ranges) {
        call(() -> {
            forgotten.put(source, ranges);
            return null;
        });
    }

    /** A keyed-state access; state backends declare checked exceptions that a caller cannot handle. */
    public interface StateCall<T> {
        T call() throws Exception;
    }

    public static <T> T call(StateCall<T> call) {
        try {
            return call.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("keyed state access failed", e);
        }
    }
}
