package io.tickflow.bars;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.types.Row;

import java.nio.charset.StandardCharsets;

/** The md.bars record (schemas/bar.schema.json) as a row for the Kafka sink: key bytes, then the message fields. */
public final class BarRecords {
    public static final String PIPELINE_VERSION = "mdp-1";
    public static final String[] FIELDS = {"k", "symbol", "timeframe", "bucket_start", "bucket_end", "open", "high",
        "low", "close", "volume", "vwap", "trade_count", "revision", "sources", "pipeline_version"};
    public static final TypeInformation<Row> TYPE = Types.ROW_NAMED(FIELDS,
            Types.PRIMITIVE_ARRAY(Types.BYTE), Types.STRING, Types.STRING, Types.LONG, Types.LONG, Types.STRING,
            Types.STRING, Types.STRING, Types.STRING, Types.STRING, Types.STRING, Types.LONG, Types.INT,
            Types.OBJECT_ARRAY(Types.STRING), Types.STRING);

    private BarRecords() {
    }

    public static Row row(Bar b) {
        return Row.of(b.key().getBytes(StandardCharsets.UTF_8), b.symbol, b.timeframe, b.bucketStart, b.bucketEnd,
                Bar.text(b.open), Bar.text(b.high), Bar.text(b.low), Bar.text(b.close), Bar.text(b.volume),
                Bar.text(b.vwap()), b.tradeCount, b.revision, b.sources.split(","), PIPELINE_VERSION);
    }
}
