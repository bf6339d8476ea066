package io.tickflow.udf;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;

/**
 * Records per second of PARSE_TRADE's parser over a file of raw trades, one JSON record per line (for
 * instance the ES sample as the replay publishes it). A main, not a test: a timing on a shared machine
 * varies too much to assert on.
 * <pre>java -cp TEST_CLASSES:CLASSES:DEPENDENCIES io.tickflow.udf.ParseThroughput FILE [ROUNDS]</pre>
 */
public final class ParseThroughput {

    private ParseThroughput() {
    }

    public static void main(String[] args) throws IOException {
        List<byte[]> records = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8).stream()
                .map(line -> line.getBytes(StandardCharsets.UTF_8)).toList();
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        RawRecordParser parser = new ParseTrade().parser();
        System.out.println(report("PARSE_TRADE", measure(raw -> parser.parse(raw).reason == null, records, rounds), records.size()));
    }

    /** Records per second of each round after one warm-up round; fails if any record is rejected. */
    static double[] measure(Predicate<byte[]> parsesValid, List<byte[]> records, int rounds) {
        double[] perSecond = new double[rounds];
        for (int round = -1; round < rounds; round++) {
            long start = System.nanoTime();
            for (byte[] raw : records) {
                if (!parsesValid.test(raw)) {
                    throw new IllegalStateException("rejected: " + new String(raw, StandardCharsets.UTF_8));
                }
            }
            if (round >= 0) {
                perSecond[round] = records.size() / ((System.nanoTime() - start) / 1e9);
            }
        }
        return perSecond;
    }

    static String report(String what, double[] perSecond, int records) {
        double[] sorted = perSecond.clone();
        Arrays.sort(sorted);
        return String.format("%s: %,d records x %d rounds: best %,.0f records/s, median %,.0f", what, records,
                sorted.length, sorted[sorted.length - 1], sorted[sorted.length / 2]);
    }
}
