package io.tickflow.indicators;

import io.tickflow.udf.RawRecordGenerators;
import io.tickflow.udf.TimedParse;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AfterContainer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Fuzzing the indicators' md.bars reader through the whole step ({@link IndicatorBook#apply} on a warm
 * series): every input ends, within {@link TimedParse#BOUND_MS}, in indicator records that are valid JSON
 * with finite numbers, or in one dead letter with a known reason; never in an exception. The inputs are
 * mutations of real bar records (byte edits biased to JSON structure and numbers) and of records with
 * values swapped for edge values. No shrinking, as in RawRecordFuzzTest.
 */
class BarReaderFuzzTest {
    private static final TimedParse TIMED = new TimedParse();
    private static final Set<String> REASONS = Set.of("MALFORMED", "BAD_TYPE", "OHLC_VIOLATION", "DUPLICATE",
            "OUT_OF_ORDER");
    private static final long M = 60_000_000_000L;
    private static final long START = 1378072800000000000L;
    private static final IndicatorBook BOOK = new IndicatorBook(new IndicatorBook.Settings(2, 16, "ind-1",
            "indicators", new IndicatorRecords.Limits(256 * 1024, 4096, 500)), (symbol, ts) -> 0L);
    private static final byte[] WARM = warm();
    private static final List<String> SEEDS = List.of(bar(START, "1640.25", "1641", "1639.75", "1640.5", 0),
            bar(START, "1640.25", "1641", "1639.75", "1641", 2), bar(START + M, "1640.5", "1640.5", "1640.5", "1640.5", 0));
    private static final String[] VALUES = {"0", "-0", "1e9", "1E+8", "1e999999999", "1e-999999999", "0e-999999999",
        "1e400", "5e-324", "9223372036854775807", "9223372036854775808", "-1", "NaN", "Infinity", "-Infinity",
        "null", "true", "[]", "{}", "\"\"", "\"1640.25\"", "\"-0\"", "\"1e3\"", "\"1640.250000000000000000\"",
        "\"" + "9".repeat(41) + "\"", "9".repeat(4300), "9".repeat(4301), "0." + "0".repeat(5000) + "1",
        "1" + "0".repeat(400) + ".5", "\"\\ud800\"", "[[[[[[[[]]]]]]]]", "[".repeat(2000) + "]".repeat(2000)};

    private static String bar(long start, String o, String h, String l, String c, int revision) {
        return "{\"symbol\":\"ES\",\"timeframe\":\"1m\",\"bucket_start\":" + start + ",\"bucket_end\":" + (start + M)
                + ",\"open\":\"" + o + "\",\"high\":\"" + h + "\",\"low\":\"" + l + "\",\"close\":\"" + c
                + "\",\"volume\":\"3940\",\"vwap\":\"1640.375\",\"trade_count\":212,\"revision\":" + revision
                + ",\"sources\":[\"replay\"],\"pipeline_version\":\"mdp-1\"}";
    }

    private static byte[] warm() {
        byte[] state = null;
        for (int i = 0; i < 40; i++) {
            double p = 1640 + (i % 7) * 0.25;
            String record = bar(START - (40 - i) * M, String.valueOf(p), String.valueOf(p + 0.5), String.valueOf(p),
                    String.valueOf(p), 0);
            state = BOOK.apply("ES|1m", null, record.getBytes(StandardCharsets.UTF_8), 0, 0L, state, 0).state;
        }
        return state;
    }

    @AfterContainer
    static void stopWorker() {
        TIMED.close();
    }

    @Property(tries = 30_000, shrinking = ShrinkingMode.OFF, edgeCases = EdgeCasesMode.NONE)
    void a_mutated_bar_record_ends_in_records_or_one_dead_letter_in_time(@ForAll("mutatedBars") byte[] raw) {
        IndicatorBook.Step step = TIMED.within(b -> BOOK.apply("ES|1m", null, b, 0, 1L, WARM, 0), raw);
        if (step.deadLetter != null) {
            String value = new String(step.deadLetter.value, StandardCharsets.US_ASCII);
            String reason = value.substring(11, value.indexOf('"', 11));
            if (!REASONS.contains(reason) || !step.indicators.isEmpty() || step.state != null) {
                throw new AssertionError("dead letter " + value + " on " + TimedParse.describe(raw));
            }
            return;
        }
        if (step.indicators.isEmpty() || step.state == null) {
            throw new AssertionError("applied without output on " + TimedParse.describe(raw));
        }
        for (IndicatorBook.Out o : step.indicators) {
            String v = new String(o.value, StandardCharsets.US_ASCII);
            if (v.contains("NaN") || v.contains("Infinity") || !v.startsWith("{\"symbol\":\"ES\"") || !v.endsWith("}")) {
                throw new AssertionError("record " + v + " on " + TimedParse.describe(raw));
            }
        }
    }

    @Provide
    Arbitrary<byte[]> mutatedBars() {
        return Arbitraries.randomValue(BarReaderFuzzTest::mutated);
    }

    private static byte[] mutated(Random r) {
        String seed = SEEDS.get(r.nextInt(SEEDS.size()));
        if (r.nextInt(3) == 0) {
            String[] fields = {"open", "high", "low", "close", "volume", "vwap", "bucket_start", "bucket_end",
                "revision", "symbol", "timeframe", "sources"};
            String field = fields[r.nextInt(fields.length)];
            String value = VALUES[r.nextInt(VALUES.length)];
            seed = seed.replaceFirst("\"" + field + "\":(\"[^\"]*\"|[0-9]+|\\[[^]]*])", "\"" + field + "\":"
                    + java.util.regex.Matcher.quoteReplacement(value));
            if (r.nextBoolean()) {
                return seed.getBytes(StandardCharsets.UTF_8);
            }
        }
        return RawRecordGenerators.mutate(r, seed.getBytes(StandardCharsets.UTF_8));
    }
}
