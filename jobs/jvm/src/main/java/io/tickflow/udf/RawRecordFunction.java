package io.tickflow.udf;

import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

/**
 * A scalar function that parses one canonical raw record (see RawRecordParser) into a Row whose first two
 * fields are reason and detail, followed by the record's fields. Subclasses declare the fields and the
 * result type; the parse and its per-thread cache live here.
 */
abstract class RawRecordFunction extends ScalarFunction {

    /** The parser of this record type (a static of the subclass: functions are shipped serialized). */
    abstract RawRecordParser parser();

    /** Indexes of the parser fields that appear in the result, in order, after reason and detail. */
    abstract int[] output();

    /** For each output position: set only when the record is valid (typed values of a rejected record are null). */
    abstract boolean[] validOnly();
    /** Shared by every instance on a thread: the watermark generator and the projection of one chained task
     *  are different instances calling on the same bytes. */
    private static final ThreadLocal<RawRecordParser.LastCall> LAST = ThreadLocal.withInitial(RawRecordParser.LastCall::new);

    Row parse(byte[] raw) {
        RawRecordParser parser = parser();
        int[] output = output();
        boolean[] validOnly = validOnly();
        RawRecordParser.LastCall cache = LAST.get();
        Object hit = cache.lookup(parser, raw);
        if (hit != null) {
            return (Row) hit;
        }
        RawRecordParser.Result r = parser.parse(raw);
        Object[] fields = new Object[output.length + 2];
        fields[0] = r.reason;
        fields[1] = r.detail;
        for (int i = 0; i < output.length; i++) {
            fields[i + 2] = r.reason != null && validOnly[i] ? null : r.values[output[i]];
        }
        Row row = Row.of(fields);
        cache.store(parser, raw, row);
        return row;
    }
}
