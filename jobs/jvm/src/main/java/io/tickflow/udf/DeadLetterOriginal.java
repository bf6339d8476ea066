package io.tickflow.udf;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * DEAD_LETTER_ORIGINAL(payload BYTES, max_whole INT, prefix INT): how an md.dlq record carries a refused
 * record's bytes (schemas/dlq.schema.json). The original travels whole, base64-encoded, when it is at most
 * {@code max_whole} bytes; a larger one keeps only its first {@code prefix} bytes, so that no dead letter
 * can exceed what the producer may send (the whole record stays in its raw topic, found by partition and
 * offset). Size and SHA-256 are always of the whole original. The limits are passed in by the job from the
 * one place they are defined (tickflow/runtime/dead_letter.py).
 */
public class DeadLetterOriginal extends ScalarFunction {

    @DataTypeHint("ROW<original STRING, original_encoding STRING, original_size INT, original_sha256 STRING, "
            + "original_truncated BOOLEAN>")
    public Row eval(byte[] payload, Integer maxWhole, Integer prefix) {
        byte[] raw = payload == null ? new byte[0] : payload;
        boolean truncated = raw.length > maxWhole;
        byte[] kept = truncated ? Arrays.copyOf(raw, Math.min(prefix, raw.length)) : raw;
        return Row.of(Base64.getEncoder().encodeToString(kept), "base64", raw.length, sha256(raw), truncated);
    }

    static String sha256(byte[] raw) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
