package io.tickflow.udf;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Utf8#firstInvalid} agrees with the JDK's strict UTF-8 decoder (NUL bytes aside, which it refuses too). */
class Utf8Test {

    @Property(tries = 20_000, edgeCases = EdgeCasesMode.NONE)
    void valid_exactly_when_the_jdk_decodes_it_and_it_has_no_nul(@ForAll("mostlyUtf8") byte[] raw) {
        boolean jdk = decodes(raw) && indexOfNul(raw) < 0;
        int invalid = Utf8.firstInvalid(raw);
        assertEquals(jdk, invalid < 0, () -> TimedParse.describe(raw));
        if (invalid >= 0) {
            assertTrue(decodes(Arrays.copyOf(raw, invalid)), "the bytes before the offset are valid");
        }
    }

    /** Text with multi-byte characters, then a few random bytes overwritten (high bytes favoured). */
    @Provide
    Arbitrary<byte[]> mostlyUtf8() {
        return Arbitraries.randomValue(r -> {
            StringBuilder b = new StringBuilder();
            for (int i = r.nextInt(12); i > 0; i--) {
                b.appendCodePoint(switch (r.nextInt(4)) {
                    case 0 -> 0x20 + r.nextInt(0x60);
                    case 1 -> 0x80 + r.nextInt(0x780);
                    case 2 -> 0x800 + r.nextInt(0xd000);
                    default -> 0x10000 + r.nextInt(0x100000);
                });
            }
            byte[] raw = b.toString().getBytes(StandardCharsets.UTF_8);
            for (int i = r.nextInt(3); i > 0 && raw.length > 0; i--) {
                raw[r.nextInt(raw.length)] = (byte) (r.nextBoolean() ? 0x80 + r.nextInt(0x80) : r.nextInt(0x100));
            }
            return raw;
        });
    }

    private static boolean decodes(byte[] raw) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    private static int indexOfNul(byte[] raw) {
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
