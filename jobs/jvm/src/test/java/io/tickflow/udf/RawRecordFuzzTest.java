package io.tickflow.udf;

import io.tickflow.udf.RawRecordGenerators.Damage;
import io.tickflow.udf.RawRecordGenerators.Generated;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AfterContainer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;

import static io.tickflow.udf.RawRecordParser.Field;
import static io.tickflow.udf.RawRecordParser.Result;
import static io.tickflow.udf.RawRecordGenerators.utf8;

/**
 * Fuzzing PARSE_TRADE's and PARSE_QUOTE's parser: every input is classified within {@link TimedParse#BOUND_MS}
 * without an exception, consistently ({@link RawRecordChecks#inconsistency}); a structurally generated
 * record gets the classification its meaning calls for ({@link ExpectedClassification}), and a valid
 * record's typed values survive writing them out and parsing them again.
 * No shrinking: a hanging input would be re-run (and leave a spinning thread) at every shrinking step, and
 * the failure message already shows the input in full. Inputs found here belong in tests/corpus/.
 */
class RawRecordFuzzTest {

    private static final RawRecordParser TRADE = new ParseTrade().parser();
    private static final RawRecordParser QUOTE = new ParseQuote().parser();
    private static final TimedParse TIMED = new TimedParse();

    /** Records as providers send them, to mutate beside generated ones. */
    private static final List<byte[]> TRADE_SEEDS = List.of(
            utf8("{\"v\":1,\"source\":\"polygon\",\"symbol\":\"AAPL\",\"venue\":\"XNAS\",\"ts_event\":1700000000123456789,"
                    + "\"ts_recv\":1700000000124000000,\"seq\":42,\"price\":\"189.7100\",\"size\":\"100\","
                    + "\"trade_id\":\"52983525034312\",\"conditions\":[\"12\",\"37\"]}"),
            utf8("{\"v\":1,\"source\":\"replay\",\"symbol\":\"ES\",\"venue\":\"XCME\",\"ts_event\":1378072800083000000,"
                    + "\"ts_recv\":1378072800083000000,\"seq\":1,\"price\":\"1640.25\",\"size\":\"8\",\"trade_id\":null,"
                    + "\"conditions\":[]}"));
    private static final List<byte[]> QUOTE_SEEDS = List.of(
            utf8("{\"v\":1,\"source\":\"polygon\",\"symbol\":\"AAPL\",\"venue\":\"XNAS\",\"ts_event\":1700000000123456789,"
                    + "\"ts_recv\":1700000000124000000,\"seq\":7,\"bid\":\"189.70\",\"bid_size\":\"300\",\"ask\":\"189.72\","
                    + "\"ask_size\":\"200\"}"));

    @AfterContainer
    static void stopWorker() {
        TIMED.close();
    }

    // --- (a) mutations of valid records ---------------------------------------------------------------

    @Property(tries = 100_000, shrinking = ShrinkingMode.OFF, edgeCases = EdgeCasesMode.NONE)
    void a_mutated_trade_is_classified_in_time_and_consistently(@ForAll("mutatedTrades") byte[] raw) {
        checkMutated(TRADE, raw);
    }

    @Property(tries = 100_000, shrinking = ShrinkingMode.OFF, edgeCases = EdgeCasesMode.NONE)
    void a_mutated_quote_is_classified_in_time_and_consistently(@ForAll("mutatedQuotes") byte[] raw) {
        checkMutated(QUOTE, raw);
    }

    @Provide
    Arbitrary<byte[]> mutatedTrades() {
        return Arbitraries.randomValue(r -> RawRecordGenerators.mutate(r, base(r, TRADE, TRADE_SEEDS)));
    }

    @Provide
    Arbitrary<byte[]> mutatedQuotes() {
        return Arbitraries.randomValue(r -> RawRecordGenerators.mutate(r, base(r, QUOTE, QUOTE_SEEDS)));
    }

    private static byte[] base(Random r, RawRecordParser parser, List<byte[]> seeds) {
        return r.nextInt(4) == 0 ? seeds.get(r.nextInt(seeds.size()))
                : utf8(RawRecordGenerators.validRecord(r, parser.fields()).text());
    }

    private static void checkMutated(RawRecordParser parser, byte[] raw) {
        Result r = TIMED.within(parser::parse, raw);
        assertConsistent(parser, r, raw);
        if (r.reason == null) {
            assertRoundTrip(parser, r, raw);
        }
    }

    // --- (b) structurally generated records -----------------------------------------------------------

    @Property(tries = 100_000, shrinking = ShrinkingMode.OFF, edgeCases = EdgeCasesMode.NONE)
    void a_generated_trade_gets_the_classification_its_content_calls_for(@ForAll("structuralTrades") Generated g) {
        checkStructural(TRADE, g);
    }

    @Property(tries = 100_000, shrinking = ShrinkingMode.OFF, edgeCases = EdgeCasesMode.NONE)
    void a_generated_quote_gets_the_classification_its_content_calls_for(@ForAll("structuralQuotes") Generated g) {
        checkStructural(QUOTE, g);
    }

    @Provide
    Arbitrary<Generated> structuralTrades() {
        return Arbitraries.randomValue(r -> RawRecordGenerators.structural(r, TRADE.fields()));
    }

    @Provide
    Arbitrary<Generated> structuralQuotes() {
        return Arbitraries.randomValue(r -> RawRecordGenerators.structural(r, QUOTE.fields()));
    }

    private static void checkStructural(RawRecordParser parser, Generated g) {
        Result r = TIMED.within(parser::parse, g.bytes());
        assertConsistent(parser, r, g.bytes());
        ExpectedClassification expected = g.damage() == Damage.TRUNCATED || g.damage() == Damage.TRAILING
                || g.bytes().length > RawRecordParser.MAX_RECORD_BYTES
                ? new ExpectedClassification(RawRecordParser.MALFORMED, "", null)
                : ExpectedClassification.of(parser.fields(), g.record());
        if (!Objects.equals(expected.reason(), r.reason)) {
            throw new AssertionError("expected " + expected.reason() + ", got " + r.reason + " (" + r.detail + ") on " + shown(g));
        }
        if (expected.reason() == null) {
            if (!Arrays.deepEquals(expected.values(), r.values)) {
                throw new AssertionError("expected values " + Arrays.deepToString(expected.values()) + ", got "
                        + Arrays.deepToString(r.values) + " on " + shown(g));
            }
        } else if (!r.detail.contains(expected.detailContains())) {
            throw new AssertionError("expected a detail with '" + expected.detailContains() + "', got '" + r.detail
                    + "' on " + shown(g));
        }
    }

    private static String shown(Generated g) {
        return g.damage() + " " + TimedParse.describe(g.bytes());
    }

    // --- shared checks --------------------------------------------------------------------------------

    private static void assertConsistent(RawRecordParser parser, Result r, byte[] raw) {
        String problem = RawRecordChecks.inconsistency(parser, r);
        if (problem != null) {
            throw new AssertionError(problem + " on " + TimedParse.describe(raw));
        }
    }

    /** A valid record's values, written out again, parse back to exactly those values. */
    private static void assertRoundTrip(RawRecordParser parser, Result r, byte[] raw) {
        Field[] fields = parser.fields();
        byte[] again = utf8(RawRecordChecks.canonical(fields, r.values));
        Result back = parser.parse(again);
        if (back.reason != null || !Arrays.deepEquals(back.values, r.values)) {
            throw new AssertionError("values " + Arrays.deepToString(r.values) + " of " + TimedParse.describe(raw)
                    + "\n  written as " + new String(again, StandardCharsets.UTF_8) + " parse back to "
                    + (back.reason != null ? back.reason + " " + back.detail : Arrays.deepToString(back.values)));
        }
    }
}
