package io.tickflow.indicators;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * The records the indicators write, byte for byte as the Python reference writes them (jobs/indicators.py
 * {@code indicator_record} and {@code dlq_record}, json.dumps with compact separators): md.indicators
 * (schemas/indicators.schema.json) and md.dlq (schemas/dlq.schema.json, tickflow/runtime/dead_letter.py).
 */
public final class IndicatorRecords {
    private IndicatorRecords() {
    }

    /** The md.indicators key: {@code symbol|timeframe|bucket_start}. */
    public static byte[] key(String symbol, String timeframe, long bucketStart) {
        return (symbol + "|" + timeframe + "|" + bucketStart).getBytes(StandardCharsets.UTF_8);
    }

    /** The md.indicators value of one changed bar. */
    public static byte[] indicators(String symbol, String timeframe, IndicatorSeries.Changed c, int indicatorSet,
                                    String pipelineVersion) {
        StringBuilder out = new StringBuilder(512);
        out.append("{\"symbol\":");
        PyJson.string(out, symbol);
        out.append(",\"timeframe\":");
        PyJson.string(out, timeframe);
        out.append(",\"bucket_start\":").append(c.bucketStart)
                .append(",\"bucket_end\":").append(c.bucketEnd)
                .append(",\"bar_revision\":").append(c.revision)
                .append(",\"indicator_set\":").append(indicatorSet);
        for (int i = 0; i < c.values.length; i++) {
            out.append(",\"").append(IndicatorSet.FIELDS[i]).append("\":");
            PyJson.number(out, c.values[i]);
        }
        out.append(",\"pipeline_version\":");
        PyJson.string(out, pipelineVersion);
        return out.append('}').toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** How a dead letter carries the original: the limits of tickflow/runtime/dead_letter.py. */
    public static final class Limits implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        final int maxWholeBytes;
        final int truncatedPrefixBytes;
        final int detailMaxChars;

        public Limits(int maxWholeBytes, int truncatedPrefixBytes, int detailMaxChars) {
            this.maxWholeBytes = maxWholeBytes;
            this.truncatedPrefixBytes = truncatedPrefixBytes;
            this.detailMaxChars = detailMaxChars;
        }
    }

    /** The md.dlq value of a refused md.bars record (original always base64, as the Python job wrote it). */
    public static byte[] deadLetter(Refused r, byte[] original, Integer partition, Long offset, long seenAtNs,
                                    String component, Limits limits) {
        byte[] raw = original == null ? new byte[0] : original;
        boolean truncated = raw.length > limits.maxWholeBytes;
        byte[] kept = truncated ? Arrays.copyOf(raw, Math.min(limits.truncatedPrefixBytes, raw.length)) : raw;
        StringBuilder out = new StringBuilder(256 + kept.length * 4 / 3);
        out.append("{\"reason\":");
        PyJson.string(out, r.reason);
        out.append(",\"detail\":");
        PyJson.string(out, codePoints(r.detail, limits.detailMaxChars));
        out.append(",\"topic\":\"md.bars\",\"partition\":").append(partition)
                .append(",\"offset\":").append(offset)
                .append(",\"original\":\"").append(Base64.getEncoder().encodeToString(kept))
                .append("\",\"original_encoding\":\"base64\",\"original_size\":").append(raw.length)
                .append(",\"original_sha256\":\"").append(sha256(raw))
                .append("\",\"original_truncated\":").append(truncated)
                .append(",\"seen_at\":").append(seenAtNs)
                .append(",\"component\":");
        PyJson.string(out, component);
        return out.append('}').toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** The first {@code n} code points of {@code s} (Python's {@code s[:n]}). */
    static String codePoints(String s, int n) {
        if (s.codePointCount(0, s.length()) <= n) {
            return s;
        }
        return s.substring(0, s.offsetByCodePoints(0, n));
    }

    static String sha256(byte[] raw) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
