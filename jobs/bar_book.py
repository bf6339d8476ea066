"""The bars of one symbol across every timeframe, driven by event time: a pure state machine.

Inputs are 1m bars from the SQL window aggregate (on-time trades) and single late trades (inside the
allowed lateness). Each input is merged into the 1m bar of its minute and the 5m/15m/1h/1d bars that
contain it, so all timeframes are roll-ups of the same 1m content and agree exactly.

Emission follows the watermark: a bar is emitted once the watermark reaches its last millisecond
(``bucket_end - 1ms``), with ``revision`` 0. Input that reaches an already emitted bar re-emits it at once
with ``revision + 1``. A bar is forgotten when the watermark passes ``bucket_end - 1ms + allowed lateness``;
the SQL stage has already sent anything later to md.dlq as LATE, so nothing arrives after that.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from jobs.bars import NS_PER_MS, TIMEFRAMES, Bar, bucket_for, trading_days


@dataclass
class BarBook:
    symbol: str
    calendar: str | None  # exchange-calendars name for 1d sessions; None = UTC days
    allowed_lateness_ns: int
    bars: dict[tuple[str, int], Bar] = field(default_factory=dict)

    @staticmethod
    def due_ms(bar: Bar) -> int:
        """Event time (ms) at which the bar is complete: its last millisecond."""
        return bar.bucket_end // NS_PER_MS - 1

    def add(self, part: Bar) -> list[Bar]:
        """Merge a 1m part into every timeframe; returns the revisions this causes (already emitted bars)."""
        revised = []
        for tf in TIMEFRAMES:
            start, end = bucket_for(part.bucket_start, tf, trading_days(self.calendar))
            key = (tf, start)
            bar = self.bars.get(key)
            if bar is None:
                self.bars[key] = part.rebucket(tf, start, end)
                continue
            bar.merge(part)
            if bar.emitted:
                bar.revision += 1
                revised.append(bar)
        return revised

    def timers_ms(self) -> set[int]:
        """Event times (ms) at which this book has something to do: emit or forget a bar."""
        lateness_ms = self.allowed_lateness_ns // NS_PER_MS
        return {self.due_ms(b) + (lateness_ms if b.emitted else 0) for b in self.bars.values()}

    def advance(self, watermark_ms: int) -> list[Bar]:
        """Emit the bars the watermark completed (shortest timeframe, then earliest, first); forget old ones."""
        lateness_ms = self.allowed_lateness_ns // NS_PER_MS
        due = [b for b in self.bars.values() if not b.emitted and self.due_ms(b) <= watermark_ms]
        due.sort(key=lambda b: (TIMEFRAMES.index(b.timeframe), b.bucket_start))
        for b in due:
            b.emitted = True
        expired = [k for k, b in self.bars.items() if b.emitted and self.due_ms(b) + lateness_ms <= watermark_ms]
        for k in expired:
            del self.bars[k]
        return due
