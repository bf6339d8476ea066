"""Bar arithmetic, pure and exact: buckets per timeframe, merging partial bars, VWAP, the bar record.

A bar covers ``[bucket_start, bucket_end)``. Intraday timeframes are UTC-aligned multiples of their length;
``1d`` follows the venue's trading sessions (see ``TradingDays``). Open is the price of the trade with the
least ``(ts_event, seq)``, close of the greatest, so the order trades arrive in never matters.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
INTRADAY_NS = {"1m": 60 * NS_PER_S, "5m": 300 * NS_PER_S, "15m": 900 * NS_PER_S, "1h": 3600 * NS_PER_S}
TIMEFRAMES = ("1m", "5m", "15m", "1h", "1d")
VWAP_QUANTUM = Decimal("0.000000001")
PIPELINE_VERSION = "mdp-1"


def bucket_start(ts_ns: int, timeframe: str) -> int:
    """Start of the intraday bucket holding ``ts_ns``."""
    width = INTRADAY_NS[timeframe]
    return ts_ns - ts_ns % width


@dataclass
class Bar:
    """A bar being built, or built: exact decimals plus the ordering keys of its open and close."""

    symbol: str
    timeframe: str
    bucket_start: int
    bucket_end: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    notional: Decimal
    trade_count: int
    open_key: tuple[int, int]
    close_key: tuple[int, int]
    sources: frozenset[str] = field(default_factory=frozenset)
    revision: int = 0
    emitted: bool = False

    def merge(self, part: "Bar") -> None:
        """Fold another bar (or a one-trade bar) of the same bucket into this one."""
        if part.open_key < self.open_key:
            self.open, self.open_key = part.open, part.open_key
        if part.close_key > self.close_key:
            self.close, self.close_key = part.close, part.close_key
        self.high = max(self.high, part.high)
        self.low = min(self.low, part.low)
        self.volume += part.volume
        self.notional += part.notional
        self.trade_count += part.trade_count
        self.sources = self.sources | part.sources

    def rebucket(self, timeframe: str, start: int, end: int) -> "Bar":
        """A copy of this bar's content as the first part of a bar of another timeframe."""
        return replace(self, timeframe=timeframe, bucket_start=start, bucket_end=end, revision=0, emitted=False)

    @property
    def vwap(self) -> Decimal:
        return (self.notional / self.volume).quantize(VWAP_QUANTUM, rounding=ROUND_HALF_EVEN) \
            if self.volume else self.close

    def invariant_violations(self) -> list[str]:
        """OHLC_VIOLATION checks: every bar must satisfy these whatever its inputs."""
        problems = []
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            problems.append("open/close outside [low, high]")
        if self.trade_count <= 0 or self.volume < 0:
            problems.append("non-positive trade count or negative volume")
        if not self.bucket_start <= self.open_key[0] and self.timeframe != "1d":
            problems.append("open before bucket start")
        return problems


def trade_bar(symbol: str, ts_ns: int, seq: int, price: Decimal, size: Decimal, source: str,
              timeframe: str = "1m") -> Bar:
    """A one-trade 1m bar: how a single (late) trade enters the same merge as whole bars."""
    start = bucket_start(ts_ns, timeframe)
    return Bar(symbol, timeframe, start, start + INTRADAY_NS[timeframe], price, price, price, price, size,
               price * size, 1, (ts_ns, seq), (ts_ns, seq), frozenset([source]))


def decimal_text(d: Decimal) -> str:
    """Shortest exact text of a decimal, never in exponent form ("1640.25", "1600")."""
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def bar_record(bar: Bar) -> dict:
    """The md.bars message (schemas/bar.schema.json)."""
    return {
        "symbol": bar.symbol, "timeframe": bar.timeframe,
        "bucket_start": bar.bucket_start, "bucket_end": bar.bucket_end,
        "open": decimal_text(bar.open), "high": decimal_text(bar.high), "low": decimal_text(bar.low),
        "close": decimal_text(bar.close), "volume": decimal_text(bar.volume),
        "vwap": decimal_text(bar.vwap), "trade_count": bar.trade_count, "revision": bar.revision,
        "sources": sorted(bar.sources), "pipeline_version": PIPELINE_VERSION,
    }


def bar_key(bar: Bar) -> str:
    return f"{bar.symbol}|{bar.timeframe}|{bar.bucket_start}"


class TradingDays:
    """Maps a time to its trading day's ``[open, close)`` from an exchange calendar.

    A trade between sessions (after a close, before the next open) belongs to the *next* session, the
    trade date an exchange would give it; such a bar's open time then precedes its ``bucket_start``.
    ``calendar=None`` means UTC calendar days.
    """

    def __init__(self, calendar: str | None) -> None:
        self.calendar = calendar
        self._opens: list[int] = []
        self._closes: list[int] = []
        if calendar:
            import exchange_calendars as xcals

            cal = xcals.get_calendar(calendar)
            self._opens = [int(t.value) for t in cal.opens]
            self._closes = [int(t.value) for t in cal.closes]

    def session(self, ts_ns: int) -> tuple[int, int]:
        if not self.calendar:
            day = 86400 * NS_PER_S
            start = ts_ns - ts_ns % day
            return start, start + day
        i = bisect.bisect_right(self._closes, ts_ns)
        if i >= len(self._closes):
            raise ValueError(f"{ts_ns} is beyond the {self.calendar} calendar's last session")
        return self._opens[i], self._closes[i]


@lru_cache(maxsize=16)
def trading_days(calendar: str | None) -> TradingDays:
    return TradingDays(calendar)


def bucket_for(ts_ns: int, timeframe: str, days: TradingDays) -> tuple[int, int]:
    """(bucket_start, bucket_end) of the bar of ``timeframe`` that a trade at ``ts_ns`` belongs to."""
    if timeframe == "1d":
        return days.session(ts_ns)
    start = bucket_start(ts_ns, timeframe)
    return start, start + INTRADAY_NS[timeframe]
