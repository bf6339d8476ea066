"""One (symbol, timeframe) series of bars and its indicators, with revisions: a pure state machine.

The series keeps its last ``keep`` bars with the indicator state *before* each of them. A new bar is
applied on top; a bar that replaces one of those (a higher ``revision``) or lands between them (a late bar
that opened a minute after later ones) restores the state before it and replays from there, so the output
always equals a batch computation over the final bars. What cannot be applied without corrupting the
state is refused with a reason: an older revision or a repeat (``DUPLICATE``), a bar older than the kept
history (``OUT_OF_ORDER``), a bar whose numbers break OHLC (``OHLC_VIOLATION``).

State is plain data (lists, dicts, floats) with a ``layout`` number, so a later version of the job can
read it from a savepoint.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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
        o, h, l, c = (Decimal(v[f]) for f in ("open", "high", "low", "close"))
        volume, vwap = Decimal(v["volume"]), Decimal(v["vwap"])
        start, end, revision = int(v["bucket_start"]), int(v["bucket_end"]), int(v["revision"])
    except (KeyError, TypeError, ValueError, InvalidOperation) as e:
        raise Refused("BAD_TYPE", f"bar field missing or not a number: {e}") from None
    if not all(x.is_finite() for x in (o, h, l, c, volume, vwap)):
        raise Refused("BAD_TYPE", "bar has a non-finite number")
    if not (l <= min(o, c) and max(o, c) <= h):
        raise Refused("OHLC_VIOLATION", f"open {o} / close {c} outside [low {l}, high {h}]")
    if volume < 0:
        raise Refused("OHLC_VIOLATION", f"negative volume {volume}")
    if end <= start or revision < 0:
        raise Refused("BAD_TYPE", f"bucket [{start}, {end}) or revision {revision} impossible")
    day = start if v.get("timeframe") == "1d" else day_of(start)
    return IncomingBar(start, end, revision, BarPoint(float(h), float(l), float(c), float(volume), float(vwap), day))


class IndicatorSeries:
    def __init__(self, version: int, keep: int = 16, state: dict | None = None) -> None:
        self.version, self.keep = version, keep
        self.bars: list[list] = []       # [bucket_start, bucket_end, revision, point fields...]
        self.before: list[dict] = []     # indicator state before each kept bar
        self.after: dict | None = None   # indicator state after the last bar
        self.dropped = False             # older bars exist that are no longer kept
        if state:
            if state.get("layout") != LAYOUT:
                raise ValueError(f"indicator state layout {state.get('layout')} is not {LAYOUT}")
            self.bars, self.before, self.after = state["bars"], state["before"], state["after"]
            self.dropped = state["dropped"]

    def state(self) -> dict:
        return {"layout": LAYOUT, "bars": self.bars, "before": self.before, "after": self.after,
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
        if i < len(starts) and starts[i] == bar.bucket_start:
            if bar.revision <= self.bars[i][2]:
                raise Refused("DUPLICATE", f"bar {bar.bucket_start} revision {bar.revision} already applied "
                                           f"(have revision {self.bars[i][2]})")
            replace = True
        else:
            replace = False
            if i == 0 and self.dropped:
                raise Refused("OUT_OF_ORDER", f"bar {bar.bucket_start} is older than the {self.keep} bars kept "
                                              f"for revisions (oldest {starts[0]})")
        row = [bar.bucket_start, bar.bucket_end, bar.revision, *_point_fields(bar.point)]
        if replace:
            self.bars[i] = row
        else:
            self.bars.insert(i, row)
            self.before.insert(i, {})
        # replay from i with the state before it
        if replace:
            start_state = self.before[i]
        elif i + 1 < len(self.bars):
            start_state = self.before[i + 1]  # what was before the bar now after the new one
        else:
            start_state = self.after
        indicators = self._indicators(start_state)
        out = []
        for j in range(i, len(self.bars)):
            self.before[j] = indicators.state()
            b = self.bars[j]
            out.append((b[0], b[1], b[2], indicators.update(BarPoint(*b[3:]))))
        self.after = indicators.state()
        while len(self.bars) > self.keep:
            self.bars.pop(0)
            self.before.pop(0)
            self.dropped = True
        return out


def _point_fields(p: BarPoint) -> list:
    return [p.high, p.low, p.close, p.volume, p.vwap, p.day]
