package io.tickflow.udf;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every line of tests/corpus/bad_input.jsonl gets the parser's classification its expectation calls for,
 * within the time bound: a parser reason (MALFORMED, MISSING_FIELD, BAD_TYPE) exactly, anything else (null,
 * or a rule's code such as DUPLICATE or OUTLIER, decided after the parse) means the parser accepts it.
 */
class BadInputCorpusTest {

    private static final TimedParse TIMED = new TimedParse();
    private static final List<BadInputCorpus.Line> CORPUS = BadInputCorpus.read(BadInputCorpus.file());

    @AfterAll
    static void stopWorker() {
        TIMED.close();
    }

    @Test
    void the_corpus_covers_both_raw_topics_and_every_parser_reason() {
        assertTrue(CORPUS.size() > 40, "corpus read from " + BadInputCorpus.file());
        assertTrue(CORPUS.stream().anyMatch(l -> "md.raw.quotes".equals(l.topic())));
        for (String reason : BadInputCorpus.PARSER_REASONS) {
            assertTrue(CORPUS.stream().anyMatch(l -> reason.equals(l.expect())), reason);
        }
    }

    @TestFactory
    Stream<DynamicTest> every_corpus_line_gets_its_parser_classification_in_time() {
        return CORPUS.stream().map(line -> DynamicTest.dynamicTest(line.number() + ": " + line.note(), () -> check(line)));
    }

    private static void check(BadInputCorpus.Line line) {
        RawRecordParser parser = parserOf(line.topic());
        RawRecordParser.Result r = TIMED.within(parser::parse, line.payload());
        assertNull(RawRecordChecks.inconsistency(parser, r), () -> "line " + line.number());
        String expected = line.parserReason();
        assertEquals(expected, r.reason, () -> "line " + line.number() + " (" + line.note() + "): " + r.detail);
    }

    private static RawRecordParser parserOf(String topic) {
        switch (Objects.requireNonNull(topic, "topic")) {
            case "md.raw.trades": return new ParseTrade().parser();
            case "md.raw.quotes": return new ParseQuote().parser();
            default: throw new IllegalArgumentException("no parser for topic " + topic);
        }
    }
}
