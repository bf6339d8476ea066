package io.tickflow.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SeriesPartitionerTest {
    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void everyBucketOfASeriesGoesToOnePartition() {
        SeriesPartitioner<Object> p = new SeriesPartitioner<>();
        int[] partitions = {0, 1, 2, 3};
        Set<Integer> seen = new HashSet<>();
        for (long start = 0; start < 100; start++) {
            seen.add(p.partition(null, b("ES|1m|" + start * 60_000_000_000L), null, "md.bars", partitions));
        }
        assertEquals(1, seen.size());
    }

    @Test
    void seriesSpreadOverPartitions() {
        Set<Integer> seen = new HashSet<>();
        for (String tf : new String[] {"1m", "5m", "15m", "1h", "1d"}) {
            for (String sym : new String[] {"ES", "NQ", "AAPL", "MSFT"}) {
                seen.add(SeriesPartitioner.forKey(b(sym + "|" + tf + "|0"), 4));
            }
        }
        assertEquals(4, seen.size());
    }

    @Test
    void partitionIsTheCrc32OfTheSeries() {
        // Python: zlib.crc32(b"ES|1m") == 0x273c0b0b, and 0x273c0b0b % 4 == 3
        assertEquals(3, SeriesPartitioner.forKey(b("ES|1m|123"), 4));
        assertEquals(0, SeriesPartitioner.forKey(null, 4));
    }
}
