package io.tickflow.udf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** tests/corpus/bad_input.jsonl: raw messages with the reason the processor must give each (see its README). */
final class BadInputCorpus {

    /** Reasons the parser gives; any other expectation (null or a rule's code) means the parser accepts. */
    static final Set<String> PARSER_REASONS = Set.of(RawRecordParser.MALFORMED, RawRecordParser.MISSING_FIELD,
            RawRecordParser.BAD_TYPE);

    /** One line; {@code statesParserReason} when it has {@code parser_expect}, the parser's reason apart from the final one. */
    record Line(int number, String topic, String expect, boolean statesParserReason, String parserExpect, String note,
                byte[] payload) {

        /**
         * What PARSE_TRADE / PARSE_QUOTE must say: {@code parser_expect} when the line has it (a rule that
         * reuses a parser code, such as BAD_TYPE for a time in seconds), else {@code expect} when it is a
         * parser reason, else null: the parser accepts what only a rule rejects.
         */
        String parserReason() {
            if (statesParserReason) {
                return parserExpect;
            }
            return expect != null && PARSER_REASONS.contains(expect) ? expect : null;
        }
    }

    private BadInputCorpus() {
    }

    /** The corpus file from the project root; Maven runs the tests in jobs/jvm. */
    static Path file() {
        return Path.of(System.getProperty("basedir", "."), "..", "..", "tests", "corpus", "bad_input.jsonl").normalize();
    }

    static List<Line> read(Path file) {
        JsonFactory json = new JsonFactory();
        List<Line> lines = new ArrayList<>();
        try {
            int number = 0;
            for (String text : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                number++;
                if (text.isBlank()) {
                    continue;
                }
                Map<String, String> fields = new HashMap<>();
                try (JsonParser p = json.createParser(text)) {
                    if (p.nextToken() != JsonToken.START_OBJECT) {
                        throw new IllegalArgumentException(file + ":" + number + " is not a JSON object");
                    }
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        JsonToken value = p.nextToken();
                        fields.put(name, value == JsonToken.VALUE_NULL ? null : p.getText());
                    }
                }
                String b64 = fields.get("payload_b64");
                byte[] payload = b64 != null ? Base64.getDecoder().decode(b64)
                        : fields.get("payload").getBytes(StandardCharsets.UTF_8);
                lines.add(new Line(number, fields.get("topic"), fields.get("expect"), fields.containsKey("parser_expect"),
                        fields.get("parser_expect"), fields.get("note"), payload));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return lines;
    }
}
