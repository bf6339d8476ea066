package io.tickflow.kafka;

import org.apache.flink.connector.kafka.sink.KafkaPartitioner;

import java.util.zip.CRC32;

/**
 * Partitions records keyed "symbol|timeframe|bucket_start" by their series, "symbol|timeframe": every bar
 * (and indicator record) of one series lands in one partition, in the order it was written, while the
 * full key still drives compaction. Partition = CRC-32 of the key's bytes before its last '|' modulo the
 * partition count (the whole key when it has no '|'), so any client can compute it (Python: zlib.crc32).
 */
public class SeriesPartitioner<T> implements KafkaPartitioner<T> {
    private static final long serialVersionUID = 1L;

    @Override
    public int partition(T record, byte[] key, byte[] value, String targetTopic, int[] partitions) {
        return partitions[forKey(key, partitions.length)];
    }

    /** Index (0 … count-1) of the partition for a key. */
    public static int forKey(byte[] key, int count) {
        if (key == null) {
            return 0;
        }
        int end = key.length;
        for (int i = key.length - 1; i >= 0; i--) {
            if (key[i] == '|') {
                end = i;
                break;
            }
        }
        CRC32 crc = new CRC32();
        crc.update(key, 0, end);
        return (int) (crc.getValue() % count);
    }
}
