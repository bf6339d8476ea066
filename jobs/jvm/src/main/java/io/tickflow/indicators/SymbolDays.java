package io.tickflow.indicators;

import java.io.Serializable;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Trading days per symbol for the anchored VWAP, as jobs/trading_days.py's {@code TradingDays.session} gives
 * them to the Python reference: a time belongs to the first session that closes after it; past the last
 * session, and for a symbol without a calendar, days are UTC.
 */
public final class SymbolDays implements BarReader.DayOf, Serializable {
    private static final long serialVersionUID = 1L;
    private static final long DAY_NS = 86_400_000_000_000L;

    private final Map<String, long[][]> sessionsBySymbol;

    private SymbolDays(Map<String, long[][]> sessionsBySymbol) {
        this.sessionsBySymbol = sessionsBySymbol;
    }

    /**
     * @param calendars       "CAL=open:close,open:close,…;CAL=…" (ns), jobs/trading_days.py {@code sessions_spec}
     * @param symbolCalendars "SYMBOL=CAL,SYMBOL=CAL,…"
     */
    public static SymbolDays parse(String calendars, String symbolCalendars) {
        Map<String, long[][]> byCalendar = new HashMap<>();
        if (calendars != null && !calendars.isBlank()) {
            for (String entry : calendars.split(";")) {
                int eq = entry.indexOf('=');
                String[] pairs = entry.substring(eq + 1).split(",");
                long[] opens = new long[pairs.length];
                long[] closes = new long[pairs.length];
                int n = 0;
                for (String pair : pairs) {
                    if (pair.isBlank()) {
                        continue;
                    }
                    int colon = pair.indexOf(':');
                    opens[n] = Long.parseLong(pair.substring(0, colon).trim());
                    closes[n] = Long.parseLong(pair.substring(colon + 1).trim());
                    n++;
                }
                byCalendar.put(entry.substring(0, eq).trim(),
                        new long[][] {Arrays.copyOf(opens, n), Arrays.copyOf(closes, n)});
            }
        }
        Map<String, long[][]> bySymbol = new HashMap<>();
        if (symbolCalendars != null && !symbolCalendars.isBlank()) {
            for (String entry : symbolCalendars.split(",")) {
                int eq = entry.indexOf('=');
                long[][] sessions = byCalendar.get(entry.substring(eq + 1).trim());
                if (sessions != null) {
                    bySymbol.put(entry.substring(0, eq).trim(), sessions);
                }
            }
        }
        return new SymbolDays(bySymbol);
    }

    @Override
    public long dayOf(String symbol, long ts) {
        long[][] sessions = sessionsBySymbol.get(symbol);
        if (sessions != null) {
            long[] closes = sessions[1];
            int i = Arrays.binarySearch(closes, ts);
            i = i >= 0 ? i + 1 : -i - 1;    // bisect_right: the first close after ts
            while (i < closes.length && closes[i] <= ts) {
                i++;
            }
            if (i < closes.length) {
                return sessions[0][i];
            }
        }
        return Math.floorDiv(ts, DAY_NS) * DAY_NS;
    }
}
