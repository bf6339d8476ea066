"""Trading days from ``exchange-calendars``, exported for the JVM bar book (jobs/jvm, ``TradingSessions``).

A 1d bar covers a venue's trading session ``[open, close)``: for CME Globex (``CMES``) the session opens
17:00 Central the evening before. A trade between sessions (after a close, before the next open) belongs
to the *next* session, the trade date an exchange would give it. Venues without a calendar, and times
outside the calendar's range, use UTC days. The bar arithmetic itself lives in the JVM; Python only
turns calendars into the session table the job carries.
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping
from functools import lru_cache

NS_PER_S = 1_000_000_000
DAY_NS = 86400 * NS_PER_S


class TradingDays:
    """Maps a time to its trading day's ``[open, close)`` (ns); ``calendar=None`` means UTC days."""

    def __init__(self, calendar: str | None) -> None:
        self.calendar = calendar
        self.opens: list[int] = []
        self.closes: list[int] = []
        if calendar:
            import exchange_calendars as xcals

            cal = xcals.get_calendar(calendar)
            self.opens = [int(t.value) for t in cal.opens]
            self.closes = [int(t.value) for t in cal.closes]

    def session(self, ts_ns: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.closes, ts_ns)
        if not self.calendar or i >= len(self.closes):
            start = ts_ns - ts_ns % DAY_NS
            return start, start + DAY_NS
        return self.opens[i], self.closes[i]

    def spec(self) -> str:
        """``open:close,open:close,…`` — the form ``TradingSessions.parse`` reads."""
        return ",".join(f"{o}:{c}" for o, c in zip(self.opens, self.closes))


@lru_cache(maxsize=16)
def trading_days(calendar: str | None) -> TradingDays:
    return TradingDays(calendar)


def sessions_spec(venue_calendars: Mapping[str, str]) -> str:
    """``VENUE=open:close,…;VENUE=…`` for every venue with a calendar (``venues:`` in market_rules.yaml)."""
    return ";".join(f"{venue}={trading_days(cal).spec()}" for venue, cal in sorted(venue_calendars.items()))
