package io.tickflow.trades;

import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;


/** {@link TakenTrades.Store} in the current key's state: identity → {minute, seq}, and source → seq ranges. */
public final class TakenState implements TakenTrades.Store {
    public static final String TAKEN_STATE = "taken-trades-v1";
    public static final String FORGOTTEN_STATE = "forgotten-seqs-v1";
    public static final String SLOTS_STATE = "taken-slots-v1";
    private static final TypeInformation<long[]> LONGS = PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO;

    private final MapState<String, long[]> taken;
    private final MapState<String, long[]> forgotten;
    /** (minute start, slot) → the identity taken there. */
    private final MapState<Tuple2<Long, Long>, String> slots;

    public TakenState(RuntimeContext ctx) {
        taken = ctx.getMapState(new MapStateDescriptor<>(TAKEN_STATE, Types.STRING, LONGS));
        forgotten = ctx.getMapState(new MapStateDescriptor<>(FORGOTTEN_STATE, Types.STRING, LONGS));
        slots = ctx.getMapState(new MapStateDescriptor<>(SLOTS_STATE, Types.TUPLE(Types.LONG, Types.LONG),
                Types.STRING));
    }

    @Override
    public Long takenMinute(String identity) {
        long[] t = call(() -> taken.get(identity));
        return t == null ? null : t[0];
    }

    @Override
    public void take(String identity, long minuteStart, long seq, long slot) {
        call(() -> {
            taken.put(identity, new long[] {minuteStart, seq});
            slots.put(Tuple2.of(minuteStart, slot), identity);
            return null;
        });
    }

    @Override
    public void forgetMinute(long minuteStart, long count, TakenTrades.Forgotten out) {
        call(() -> {
            for (long i = 0; i < count; i++) {
                Tuple2<Long, Long> slot = Tuple2.of(minuteStart, i);
                String identity = slots.get(slot);
                if (identity == null) {
                    continue;
                }
                slots.remove(slot);
                long[] t = taken.get(identity);
                if (t != null) {
                    taken.remove(identity);
                    out.trade(identity, t[1]);
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
