"""Which minutes a symbol trades: the venue's calendar (exchange-calendars sessions, holidays and early
closes included) minus its daily halts (``breaks`` in jobs/market_rules.yaml). The quality job judges gaps
and stale feeds against it; a symbol without a home venue is judged as trading around the clock."""
from __future__ import annotations

from collections.abc import Callable

from jobs import quality_measures as qm
from jobs.trading_days import trading_days
from jobs.validation import RuleSet

MINUTE_NS = 60_000_000_000


def session_minutes_function(rules: RuleSet) -> Callable[[str, int, int], list[int]]:
    """``f(symbol, start_ns, end_ns)`` → the symbol's trading minute starts in ``[start, end)``."""

    def minutes(symbol: str, start: int, end: int) -> list[int]:
        calendar = rules.symbol_calendar(symbol)
        if calendar is None:
            first = start + (-start) % MINUTE_NS
            return list(range(first, end, MINUTE_NS))
        days = trading_days(calendar)
        tz, breaks = rules.venue_breaks.get(rules.symbol_venues.get(symbol, ""), ("UTC", ()))
        return qm.trading_minutes(days.opens, days.closes, start, end, breaks, tz)

    return minutes
