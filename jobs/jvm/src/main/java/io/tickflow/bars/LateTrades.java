package io.tickflow.bars;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.types.Row;

/** The side output of trades the bar book refused as LATE: what md.dlq needs of each (its original bytes and
 *  where they were read), and why. */
public final class LateTrades {
    public static final String[] FIELDS = {"k", "payload", "kafka_partition", "kafka_offset", "detail"};
    public static final TypeInformation<Row> TYPE = Types.ROW_NAMED(FIELDS, Types.PRIMITIVE_ARRAY(Types.BYTE),
            Types.PRIMITIVE_ARRAY(Types.BYTE), Types.INT, Types.LONG, Types.STRING);

    private LateTrades() {
    }

    /** The dead-letter row of a trade row (which carries k, payload, kafka_partition, kafka_offset). */
    public static Row row(Row trade, String detail) {
        return Row.of(trade.getField("k"), trade.getField("payload"), trade.getField("kafka_partition"),
                trade.getField("kafka_offset"), detail);
    }
}
