package io.tickflow.bars;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.types.Row;

/** Trades the bar stage refused (a broken rule, DUPLICATE, LATE): what md.dlq needs of each (its original
 *  bytes and where they were read), with the reason code and its detail. */
public final class RefusedTrades {
    public static final String[] FIELDS = {"k", "payload", "kafka_partition", "kafka_offset", "reason", "detail"};
    public static final TypeInformation<Row> TYPE = Types.ROW_NAMED(FIELDS, Types.PRIMITIVE_ARRAY(Types.BYTE),
            Types.PRIMITIVE_ARRAY(Types.BYTE), Types.INT, Types.LONG, Types.STRING, Types.STRING);

    private RefusedTrades() {
    }

    /** The dead-letter row of a trade row (which carries k, payload, kafka_partition, kafka_offset). */
    public static Row row(Row trade, String reason, String detail) {
        return Row.of(trade.getField("k"), trade.getField("payload"), trade.getField("kafka_partition"),
                trade.getField("kafka_offset"), reason, detail);
    }
}
