"""One (symbol, timeframe) series of bars and its indicators, with revisions: a pure state machine.

The series keeps its last ``keep`` (to ``2·keep``) bars and the indicator state before the oldest. A new
bar is applied on top; a bar that replaces one of those (a higher ``revision``) or lands between them (a
late bar that opened a minute after later ones) replays the kept bars from that state, emitting from the
changed bar on, so the output always equals a batch computation over the final bars. What cannot be
applied without corrupting the state is refused with a reason: an older revision or a repeat
(``DUPLICATE``), a bar older than the kept history (``OUT_OF_ORDER``), a bar whose numbers break OHLC
(``OHLC_VIOLATION``).

State is plain data (lists, dicts, floats) with a ``layout`` number, so a later version of the job can
read it from a savepoint.
"""
from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from dataclasses import astuple, dataclass
from decimal import Decimal

from jobs.indicator_math import BarPoint, IndicatorSet

LAYOUT = 1


@dataclass(frozen=True)
class IncomingBar:
    bucket_start: int
    bucket_end: int
    revision: int
    point: BarPoint


class Refused(Exception):
    """A bar the series cannot take; ``reason`` is a md.dlq reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def bar_from_record(v: dict, day_of) -> IncomingBar:
    """An md.bars value as the indicators read it; ``day_of(bucket_start)`` gives the trading day (ns)."""
    try:
        o, h, l, c = (_number(v[f], f) for f in ("open", "high", "low", "close"))
        volume, vwap = _number(v["volume"], "volume"), _number(v["vwap"], "vwap")
        start, end, revision = (_integer(v[f], f) for f in ("bucket_start", "bucket_end", "revision"))
    except KeyError as e:
        raise Refused("BAD_TYPE", f"bar field missing: {e}") from None
    if not (l <= min(o, c) and max(o, c) <= h):
        raise Refused("OHLC_VIOLATION", f"open {o} / close {c} outside [low {l}, high {h}]")
    if volume < 0:
        raise Refused("OHLC_VIOLATION", f"negative volume {volume}")
    if end <= start:
        raise Refused("BAD_TYPE", f"bucket [{start}, {end}) impossible")
    day = start if v.get("timeframe") == "1d" else day_of(start)
    return IncomingBar(start, end, revision, BarPoint(float(h), float(l), float(c), float(volume), float(vwap), day))


_NUMBER_TEXT = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")
INT64_MAX = 2**63 - 1


def _number(value: object, what: str) -> Decimal:
    """A bar's price or volume: decimal text as md.bars writes it (a JSON number is taken too) whose
    magnitude stays below 1e18, so that its float and the indicators' sums stay finite."""
    if isinstance(value, str):
        if not _NUMBER_TEXT.fullmatch(value):
            raise Refused("BAD_TYPE", f"{what} {value[:40]!r} is not decimal text")
        d = Decimal(value)
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        d = Decimal(value)
    else:
        raise Refused("BAD_TYPE", f"{what} is not a number but {type(value).__name__}")
    if not d.is_finite() or (not d.is_zero() and d.adjusted() >= 18):
        raise Refused("BAD_TYPE", f"{what} {d:.3e} is not a finite number below 1e18")
    return d


def _integer(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= INT64_MAX:
        raise Refused("BAD_TYPE", f"{what} is not an integer from 0 to 2^63-1")
    return value


def read_bar(payload: bytes | None, key: str, days: Callable[[str], Callable[[int], int]]
             ) -> tuple[str, str, IncomingBar]:
    """An md.bars message of the series ``key`` (``symbol|timeframe``) → (symbol, timeframe, bar).

    ``days(symbol)`` is that symbol's ``day_of``. Raises ``Refused`` for what is not such a bar.
    """
    if payload is None:
        raise Refused("MALFORMED", "the record has no value")
    try:
        v = json.loads(payload, parse_float=Decimal)
    except RecursionError:
        raise Refused("MALFORMED", "not JSON: nested too deeply") from None
    except ArithmeticError:  # decimal.InvalidOperation: an exponent beyond Decimal's range
        raise Refused("MALFORMED", "not JSON: a number beyond the decimal range") from None
    except ValueError as e:  # bad UTF-8 included
        raise Refused("MALFORMED", f"not JSON: {e}"[:300]) from None
    if not isinstance(v, dict) or key == "?":
        raise Refused("MALFORMED", f"not a bar record of series {key[:80]}")
    symbol, timeframe = v.get("symbol"), v.get("timeframe")
    if not isinstance(symbol, str) or not isinstance(timeframe, str) or f"{symbol}|{timeframe}" != key:
        raise Refused("MALFORMED", f"not a bar record of series {key[:80]}")
    return symbol, timeframe, bar_from_record(v, days(symbol))


class IndicatorSeries:
    """The last ``keep`` to ``2·keep`` bars of a series and three indicator states: before the oldest kept
    bar (``base``), after the ``keep``-th (``mid``) and after the newest (``after``). A new bar costs one
    state restore and one update; every ``keep`` bars ``base`` jumps to ``mid`` and the history drops its
    oldest ``keep`` bars, with no extra updates. A revision replays at most ``2·keep`` bars from ``base``."""

    def __init__(self, version: int, keep: int = 16, state: dict | None = None) -> None:
        self.version, self.keep = version, keep
        self.bars: list[list] = []       # [bucket_start, bucket_end, revision, point fields...], time order
        self.base: dict | None = None    # indicator state before bars[0] (None: nothing before it)
        self.mid: dict | None = None     # indicator state after bars[keep - 1]
        self.after: dict | None = None   # indicator state after bars[-1]
        self.dropped = False             # older bars exist that are no longer kept
        if state:
            if state.get("layout") != LAYOUT:
                raise ValueError(f"indicator state layout {state.get('layout')} is not {LAYOUT}")
            self.bars, self.base, self.mid, self.after = state["bars"], state["base"], state["mid"], state["after"]
            self.dropped = state["dropped"]

    def state(self) -> dict:
        return {"layout": LAYOUT, "bars": self.bars, "base": self.base, "mid": self.mid, "after": self.after,
                "dropped": self.dropped}

    def _indicators(self, snapshot: dict | None) -> IndicatorSet:
        s = IndicatorSet(self.version)
        if snapshot:
            s.restore(snapshot)
        return s

    def apply(self, bar: IncomingBar) -> list[tuple[int, int, int, dict]]:
        """Take a bar; returns (bucket_start, bucket_end, revision, indicators) for every bar whose
        indicators changed, in time order. Raises ``Refused`` for what it cannot take."""
        starts = [b[0] for b in self.bars]
        i = bisect.bisect_left(starts, bar.bucket_start)
        row = [bar.bucket_start, bar.bucket_end, bar.revision, *astuple(bar.point)]
        replaced = i < len(starts) and starts[i] == bar.bucket_start
        if replaced:
            if bar.revision <= self.bars[i][2]:
                raise Refused("DUPLICATE", f"bar {bar.bucket_start} revision {bar.revision} already applied "
                                           f"(have revision {self.bars[i][2]})")
            self.bars[i] = row
        elif i == 0 and self.dropped:
            raise Refused("OUT_OF_ORDER", f"bar {bar.bucket_start} is older than the bars kept for revisions "
                                          f"(oldest {starts[0]})")
        else:
            self.bars.insert(i, row)
        n, keep = len(self.bars), self.keep
        marks: dict[int, dict | None] = {keep - 1: None, 2 * keep - 1: None}  # states after these bars
        if i == n - 1 and not replaced:                 # the usual case: a new bar at the end
            first, indicators = i, self._indicators(self.after)
            if i - 1 in marks:
                marks[i - 1] = self.after
        else:                                           # a revision (of the newest bar too) or a late bar: replay
            first, indicators = 0, self._indicators(self.base)
        out = []
        for j in range(first, n):
            b = self.bars[j]
            values = indicators.update(BarPoint(*b[3:]))
            if j >= i:
                out.append((b[0], b[1], b[2], values))
            if j in marks:
                marks[j] = indicators.state()
        self.after = indicators.state()
        if marks[keep - 1] is not None:
            self.mid = marks[keep - 1]
        if n > 2 * keep:
            self.base, self.mid = self.mid, marks[2 * keep - 1]
            del self.bars[:keep]
            self.dropped = True
        return out
