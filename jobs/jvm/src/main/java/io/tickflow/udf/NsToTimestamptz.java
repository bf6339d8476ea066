package io.tickflow.udf;

import org.apache.flink.table.functions.ScalarFunction;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * NS_TO_TIMESTAMPTZ(ns): nanoseconds since the epoch (UTC) as an ISO-8601 instant truncated to microseconds,
 * e.g. {@code 2013-09-01T22:00:00.123456Z}, the text PostgreSQL reads into a timestamptz without loss or
 * rounding. The JDBC sinks send it as an untyped string, so the column's own type applies.
 */
public class NsToTimestamptz extends ScalarFunction {

    public String eval(Long ns) {
        return ns == null ? null : format(ns);
    }

    public static String format(long ns) {
        return Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L))
                .truncatedTo(ChronoUnit.MICROS).toString();
    }
}
