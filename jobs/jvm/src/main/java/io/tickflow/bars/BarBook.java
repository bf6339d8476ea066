package io.tickflow.bars;

import io.tickflow.trades.TakenTrades;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The bars of one symbol across every timeframe, built from its trades and driven by event time: a pure state
 * machine over a {@link BarStore} (the operator keeps the store in keyed state).
 *
 * <p>A trade is merged into the 1m bar of its minute. When the watermark reaches a minute's last millisecond
 * the 1m bar is emitted (revision 0) and folded into the 5m/15m/1h/1d bars that hold it, which are emitted
 * once the watermark reaches their own last millisecond; every timeframe is therefore the roll-up of the
 * same 1m content. A trade reaching an emitted minute re-emits the 1m bar and every roll-up holding it
 * (revision + 1, each with all its trades).
 *
 * <p>Duplicates are judged here too, per symbol: the book holds the identity of every
 * trade taken into a 1m bar it has not yet forgotten, and forgets them with that bar. A trade whose identity
 * is held is a DUPLICATE; one whose minute is forgotten is LATE before anything else, since a repeat of it
 * could not be told from a first copy any more. The duplicate state is therefore bounded by the trades of
 * the allowed lateness per symbol, and expires in event time: an outage of any length changes nothing. The
 * seqs of forgotten trades stay as ranges per source ({@link TakenTrades}: one range for a gapless feed), so
 * a refused trade past the lateness is called DUPLICATE when its seq was taken before and LATE otherwise.
 *
 * <p>Lateness is judged here, against the same watermark that makes the book forget, so the two can never
 * disagree: a bar is forgotten when the watermark passes its last millisecond plus the allowed lateness,
 * and a trade whose minute is past that point is LATE. The watermark a trade is judged by is the higher of
 * the operator's and the one this book last forgot at ({@link BarStore#closedThroughMs()}, kept in state),
 * so neither a restart (the operator's watermark starts again from nothing) nor an input path that lags
 * behind another can bring back a bar the book has forgotten and emit a fragment of it as a new bar.
 */
public final class BarBook {
    private static final Comparator<Bar> EMIT_ORDER =
            Comparator.comparingInt((Bar b) -> Timeframes.order(b.timeframe)).thenComparingLong(b -> b.bucketStart);
    private static final List<String> ROLLUPS = Timeframes.ALL.subList(1, Timeframes.ALL.size());

    private final BarStore store;
    private final long latenessMs;
    private final Map<String, TradingSessions> sessionsByVenue;

    public BarBook(BarStore store, long latenessMs, Map<String, TradingSessions> sessionsByVenue) {
        this.store = store;
        this.latenessMs = latenessMs;
        this.sessionsByVenue = sessionsByVenue;
    }

    public static final String LATE = "LATE";
    public static final String DUPLICATE = "DUPLICATE";

    /** What one trade did: the revisions it caused, or why it was refused. */
    public static final class Outcome {
        public final List<Bar> revised;
        /** Null when the trade was taken; else {@link #LATE} or {@link #DUPLICATE}. */
        public final String refusal;
        /** The dead letter's detail of a refusal. */
        public final String detail;
        /** The 1m bar's due time when the trade opened a new minute (a timer to set), else Long.MIN_VALUE. */
        public final long newMinuteDueMs;

        Outcome(List<Bar> revised, long newMinuteDueMs) {
            this(revised, null, null, newMinuteDueMs);
        }

        private Outcome(List<Bar> revised, String refusal, String detail, long newMinuteDueMs) {
            this.revised = revised;
            this.refusal = refusal;
            this.detail = detail;
            this.newMinuteDueMs = newMinuteDueMs;
        }

        static Outcome refused(String reason, String detail) {
            return new Outcome(List.of(), reason, detail, Long.MIN_VALUE);
        }
    }

    /** What a watermark did: the bars it completed, in emission order, and the event times to come back at. */
    public static final class Advance {
        public final List<Bar> emitted = new ArrayList<>();
        public final List<Long> timersMs = new ArrayList<>();
    }

    /** Event time (ms) at which a bar is complete: its last millisecond. */
    public static long dueMs(Bar b) {
        return Math.floorDiv(b.bucketEnd, 1_000_000L) - 1;
    }

    /** Event time (ms) from which a bar is forgotten and input for it is LATE. */
    public long expiryMs(Bar b) {
        return dueMs(b) + latenessMs;
    }

    /** Take one trade ({@code tradeId} null where the feed has none), judged against the operator's current
     *  watermark (ms). */
    public Outcome add(String symbol, String source, String venue, long ts, long seq, String tradeId,
                       BigDecimal price, BigDecimal size, long watermarkMs) {
        long judgedAt = Math.max(watermarkMs, store.closedThroughMs());
        long minuteStart = Timeframes.intradayStart(ts, "1m");
        long minuteDue = Math.floorDiv(minuteStart + Timeframes.widthNs("1m"), 1_000_000L) - 1;
        if (minuteDue + latenessMs <= judgedAt) {
            String repeat = TakenTrades.forgottenRepeat(store.taken(), source, symbol, tradeId, seq);
            String closed = "minute of ts_event " + ts + " closed more than " + latenessMs + " ms before watermark "
                    + judgedAt;
            return repeat != null ? Outcome.refused(DUPLICATE, repeat + "; its " + closed)
                    : Outcome.refused(LATE, closed);
        }
        Bar minute = store.minute(minuteStart);
        String duplicate = TakenTrades.take(store.taken(), source, symbol, tradeId, seq, minuteStart,
                minute == null ? 0 : minute.tradeCount);
        if (duplicate != null) {
            return Outcome.refused(DUPLICATE, duplicate);
        }
        if (minute == null) {
            minute = Bar.trade(symbol, ts, seq, price, size, source);
            minute.venue = venue;
            store.putMinute(minute);
            return new Outcome(List.of(), minuteDue);
        }
        minute.addTrade(ts, seq, price, size, source);
        if (!minute.emitted) {
            store.putMinute(minute);
            return new Outcome(List.of(), Long.MIN_VALUE);
        }
        // an emitted minute has been folded into its roll-ups, which outlive it: revise each one holding it
        List<Bar> revised = new ArrayList<>();
        minute.revision += 1;
        store.putMinute(minute);
        revised.add(minute);
        for (String tf : ROLLUPS) {
            Bar up = store.rollup(rollupKey(minute, tf));
            if (up == null) {
                throw new IllegalStateException("roll-up " + tf + " of an emitted minute is gone: " + minute.key());
            }
            up.addTrade(ts, seq, price, size, source);
            if (up.emitted) {
                up.revision += 1;
                revised.add(up);
            }
            store.putRollup(up);
        }
        return new Outcome(revised, Long.MIN_VALUE);
    }

    /**
     * Move event time to {@code watermarkMs}: emit the 1m bars it completed (earliest first), fold each into
     * its roll-ups, emit the roll-ups it completed (shortest timeframe, then earliest), then forget the
     * emitted bars past their allowed lateness.
     */
    public Advance advance(long watermarkMs) {
        Advance out = new Advance();
        List<Bar> all = store.all();
        List<Bar> dueMinutes = new ArrayList<>();
        for (Bar b : all) {
            if (!b.emitted && b.timeframe.equals("1m") && dueMs(b) <= watermarkMs) {
                dueMinutes.add(b);
            }
        }
        dueMinutes.sort(EMIT_ORDER);
        for (Bar m : dueMinutes) {
            m.emitted = true;
            store.putMinute(m);
            out.emitted.add(m);
            out.timersMs.add(expiryMs(m));
            for (String tf : ROLLUPS) {
                fold(m, tf, out);
            }
        }
        List<Bar> dueRollups = new ArrayList<>();
        for (Bar b : store.all()) {
            if (!b.emitted && !b.timeframe.equals("1m") && dueMs(b) <= watermarkMs) {
                dueRollups.add(b);
            }
        }
        dueRollups.sort(EMIT_ORDER);
        for (Bar up : dueRollups) {
            up.emitted = true;
            store.putRollup(up);
            out.emitted.add(up);
            out.timersMs.add(expiryMs(up));
        }
        for (Bar b : store.all()) {
            if (b.emitted && expiryMs(b) <= watermarkMs) {
                store.remove(b);
                if (b.timeframe.equals("1m")) {
                    // a minute's trades are forgotten with it: one slot per trade it took
                    TakenTrades.forgetMinute(store.taken(), b.bucketStart, b.tradeCount);
                }
            }
        }
        if (watermarkMs > store.closedThroughMs()) {
            store.setClosedThroughMs(watermarkMs);
        }
        return out;
    }

    /** Fold an emitted minute into its roll-up of {@code tf}: a new roll-up, a merge, or a revision. */
    private void fold(Bar minute, String tf, Advance out) {
        String key = rollupKey(minute, tf);
        Bar up = store.rollup(key);
        if (up == null) {
            long[] bucket = Timeframes.bucket(minute.bucketStart, tf, sessions(minute.venue));
            up = minute.rebucket(tf, bucket[0], bucket[1]);
            out.timersMs.add(dueMs(up));
        } else {
            up.merge(minute);
            if (up.emitted) {
                // the roll-up was emitted before this minute came: re-emit it whole
                up.revision += 1;
                out.emitted.add(up);
            }
        }
        store.putRollup(up);
    }

    private String rollupKey(Bar minute, String tf) {
        long[] bucket = Timeframes.bucket(minute.bucketStart, tf, sessions(minute.venue));
        return minute.symbol + "|" + tf + "|" + bucket[0];
    }

    private TradingSessions sessions(String venue) {
        return sessionsByVenue.getOrDefault(venue == null ? "" : venue, TradingSessions.UTC);
    }
}
