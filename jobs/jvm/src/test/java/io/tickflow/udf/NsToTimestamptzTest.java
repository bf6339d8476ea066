package io.tickflow.udf;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class NsToTimestamptzTest {

    @Test
    void whole_minute_prints_without_fraction() {
        assertEquals("2013-09-01T22:00:00Z", NsToTimestamptz.format(1378072800000000000L));
    }

    @Test
    void nanoseconds_are_truncated_to_microseconds_not_rounded() {
        assertEquals("2013-09-01T22:00:00.123456Z", NsToTimestamptz.format(1378072800123456999L));
    }

    @Test
    void instants_before_the_epoch_keep_their_sign() {
        assertEquals("1969-12-31T23:59:59.999999Z", NsToTimestamptz.format(-1L));
    }

    @Test
    void null_stays_null() {
        assertNull(new NsToTimestamptz().eval(null));
    }
}
