package io.tickflow.udf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

/** How a dead letter carries its original: whole up to the limit, else a prefix; size and hash of the whole. */
class DeadLetterOriginalTest {
    static final int WHOLE = 256 * 1024;
    static final int PREFIX = 4096;

    @Test
    void aSmallOriginalTravelsWholeWithItsSizeAndHash() {
        byte[] raw = "{\"v\":1}".getBytes(StandardCharsets.UTF_8);
        Row r = new DeadLetterOriginal().eval(raw, WHOLE, PREFIX);
        assertArrayEquals(raw, Base64.getDecoder().decode((String) r.getField(0)));
        assertEquals("base64", r.getField(1));
        assertEquals(raw.length, r.getField(2));
        // sha256('{"v":1}'), as Python's hashlib computes it (tests/unit/test_dead_letter.py holds the same)
        assertEquals("afbf9d0f3560b0fd7795e81c42a0a79ee6b6fc67e064f77826aee642cad28d91", r.getField(3));
        assertEquals(false, r.getField(4));
    }

    @Test
    void anOriginalOverTheLimitKeepsItsPrefixAndDescribesTheWhole() {
        byte[] raw = new byte[WHOLE + 1];
        Arrays.fill(raw, (byte) 'x');
        Row r = new DeadLetterOriginal().eval(raw, WHOLE, PREFIX);
        assertEquals(PREFIX, Base64.getDecoder().decode((String) r.getField(0)).length);
        assertEquals(WHOLE + 1, r.getField(2));
        assertEquals(DeadLetterOriginal.sha256(raw), r.getField(3));
        assertEquals(true, r.getField(4));
        Row exact = new DeadLetterOriginal().eval(Arrays.copyOf(raw, WHOLE), WHOLE, PREFIX);
        assertEquals(false, exact.getField(4), "exactly at the limit travels whole");
    }

    @Test
    void aMissingPayloadIsAnEmptyOriginal() {
        Row r = new DeadLetterOriginal().eval(null, WHOLE, PREFIX);
        assertEquals("", r.getField(0));
        assertEquals(0, r.getField(2));
    }
}
