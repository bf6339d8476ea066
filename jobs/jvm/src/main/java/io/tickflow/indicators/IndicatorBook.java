package io.tickflow.indicators;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The indicators job's step for one md.bars record, apart from Flink: read the bar, apply it to its series'
 * state, and say what to write — md.indicators records for every bar whose indicators changed, or one md.dlq
 * record with the reason the bar was refused. The JVM twin of the Python reference
 * (jobs/indicators.py {@code ReferenceStep}); {@link IndicatorFunction} runs it on Flink keyed state.
 */
public final class IndicatorBook implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Settings of the job that shape its output. */
    public static final class Settings implements Serializable {
        private static final long serialVersionUID = 1L;
        final int indicatorSet;
        final int keepBars;
        final String pipelineVersion;
        final String component;
        final IndicatorRecords.Limits limits;

        public Settings(int indicatorSet, int keepBars, String pipelineVersion, String component,
                        IndicatorRecords.Limits limits) {
            if (indicatorSet != 1 && indicatorSet != 2) {
                throw new IllegalArgumentException("indicator set 1 or 2, not " + indicatorSet);
            }
            this.indicatorSet = indicatorSet;
            this.keepBars = keepBars;
            this.pipelineVersion = pipelineVersion;
            this.component = component;
            this.limits = limits;
        }
    }

    /** A Kafka record to write: key and value. */
    public static final class Out {
        public final byte[] key;
        public final byte[] value;

        Out(byte[] key, byte[] value) {
            this.key = key;
            this.value = value;
        }
    }

    /** What one record did: the new series state (null: unchanged) and the records to write. */
    public static final class Step {
        public final byte[] state;
        /** The series as {@link #state} holds it (null when unchanged). */
        public final IndicatorSeries series;
        public final List<Out> indicators;
        public final Out deadLetter;

        Step(byte[] state, IndicatorSeries series, List<Out> indicators, Out deadLetter) {
            this.state = state;
            this.series = series;
            this.indicators = indicators;
            this.deadLetter = deadLetter;
        }

        public boolean applied() {
            return deadLetter == null;
        }
    }

    private final Settings settings;
    private final BarReader.DayOf days;

    public IndicatorBook(Settings settings, BarReader.DayOf days) {
        this.settings = settings;
        this.days = days;
    }

    /**
     * {@code symbol|timeframe} from md.bars' key {@code symbol|timeframe|bucket_start} (split at its last two
     * '|'); keys that are not UTF-8 or have fewer than two '|' share "?".
     */
    public static String seriesKey(byte[] kafkaKey) {
        if (kafkaKey == null) {
            return "?";
        }
        String key;
        try {
            key = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(kafkaKey)).toString();
        } catch (CharacterCodingException e) {
            return "?";
        }
        int last = key.lastIndexOf('|');
        int second = last <= 0 ? -1 : key.lastIndexOf('|', last - 1);
        return second < 0 ? "?" : key.substring(0, last);
    }

    /**
     * One md.bars record of the series {@code seriesKey} whose state is {@code state} (null: none yet).
     *
     * @throws IllegalStateException a state this version cannot read (an upgrade error, not bad data)
     */
    public Step apply(String seriesKey, byte[] kafkaKey, byte[] payload, Integer partition, Long offset,
                      byte[] state, long nowNs) {
        return apply(seriesKey, kafkaKey, payload, partition, offset, state, null, nowNs);
    }

    /**
     * As {@link #apply(String, byte[], byte[], Integer, Long, byte[], long)}, with {@code decoded} the series
     * that {@code state} holds when the caller has it at hand (a {@link Step#series} it kept), else null.
     */
    public Step apply(String seriesKey, byte[] kafkaKey, byte[] payload, Integer partition, Long offset,
                      byte[] state, IndicatorSeries decoded, long nowNs) {
        BarReader.Read read;
        try {
            read = BarReader.read(payload, seriesKey, days);
        } catch (Refused r) {
            return refuse(r, kafkaKey, payload, partition, offset, nowNs);
        }
        IndicatorSeries series = decoded != null ? decoded
                : IndicatorSeries.fromBytes(state, settings.indicatorSet, settings.keepBars);
        List<IndicatorSeries.Changed> changed;
        try {
            changed = series.apply(read.bar);
        } catch (Refused r) {
            return refuse(r, kafkaKey, payload, partition, offset, nowNs);
        }
        List<Out> out = new ArrayList<>(changed.size());
        for (IndicatorSeries.Changed c : changed) {
            out.add(new Out(IndicatorRecords.key(read.symbol, read.timeframe, c.bucketStart),
                    IndicatorRecords.indicators(read.symbol, read.timeframe, c, settings.indicatorSet,
                            settings.pipelineVersion)));
        }
        return new Step(series.toBytes(), series, out, null);
    }

    private Step refuse(Refused r, byte[] kafkaKey, byte[] payload, Integer partition, Long offset, long nowNs) {
        byte[] value = IndicatorRecords.deadLetter(r, payload, partition, offset, nowNs, settings.component,
                settings.limits);
        return new Step(null, null, List.of(), new Out(kafkaKey == null ? new byte[0] : kafkaKey, value));
    }
}
