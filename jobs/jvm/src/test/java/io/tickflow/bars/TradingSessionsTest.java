package io.tickflow.bars;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Session lookup: inside, between (→ next session), at the close (half-open), outside the table (UTC days). */
class TradingSessionsTest {
    static final long D = 86_400_000_000_000L;
    static final TradingSessions S = TradingSessions.parse("100:200,300:400");

    @Test
    void aTimeBelongsToTheSessionThatClosesAfterIt() {
        assertArrayEquals(new long[] {100, 200}, S.session(100));
        assertArrayEquals(new long[] {100, 200}, S.session(199));
        assertArrayEquals(new long[] {300, 400}, S.session(200), "the close is outside: half-open");
        assertArrayEquals(new long[] {300, 400}, S.session(250), "between sessions: the next one");
        assertArrayEquals(new long[] {100, 200}, S.session(50), "just before the first open");
    }

    @Test
    void outsideTheTableDaysAreUtc() {
        assertArrayEquals(new long[] {0, D}, S.session(400));
        assertArrayEquals(new long[] {3 * D, 4 * D}, TradingSessions.UTC.session(3 * D + 5));
        assertArrayEquals(new long[] {-D, 0}, TradingSessions.UTC.session(-5));
    }

    @Test
    void specsParsePerVenueAndRejectUnsortedSessions() {
        Map<String, TradingSessions> m = TradingSessions.parseByVenue("XCME=100:200,300:400;XNYS=5:6");
        assertEquals(2, m.get("XCME").size());
        assertEquals(1, m.get("XNYS").size());
        assertThrows(IllegalArgumentException.class, () -> TradingSessions.parse("300:400,100:200"));
        assertThrows(IllegalArgumentException.class, () -> TradingSessions.parse("300:200"));
    }
}
