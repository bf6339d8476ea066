"""Progress of long work (a replay, a bounded job, an audit) as a periodic line on stderr: what is done,
of how much, at what rate and when it will end.

A line, not a bar: it reads the same in a terminal, a CI log and a file. At most one line per ``every``
seconds, plus the last; nothing for work that ends sooner.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def progress_line(label: str, done: int, total: int | None, seconds: float, unit: str = "records") -> str:
    """``label: 120,000 of 500,000 records (24%), 60,000/s, about 6 s left`` (no total: no share, no ETA)."""
    rate = done / seconds if seconds > 0 else 0.0
    parts = [f"{label}: {done:,}" + (f" of {total:,}" if total is not None else "") + f" {unit}"]
    if total:
        parts[0] += f" ({min(done / total, 1.0):.0%})"
    parts.append(f"{rate:,.0f}/s")
    if total is not None and rate > 0 and done < total:
        parts.append(f"about {(total - done) / rate:,.0f} s left")
    elif total is None or done >= total:
        parts.append(f"{seconds:,.0f} s")
    return ", ".join(parts)


class Progress:
    """Call ``update(done)`` as often as you like; a line is written when ``every`` seconds have passed."""

    def __init__(self, label: str, total: int | None = None, unit: str = "records", every: float = 5.0,
                 out: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.out = out if out is not None else sys.stderr
        self.clock = clock
        self.started = self.last = clock()
        self.done = 0
        self.lines = 0

    def update(self, done: int) -> None:
        self.done = done
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self._write(now)

    def finish(self, done: int | None = None) -> None:
        """The last line, when any line was written before (short work stays silent)."""
        if done is not None:
            self.done = done
        if self.lines:
            self._write(self.clock())

    def _write(self, now: float) -> None:
        print(progress_line(self.label, self.done, self.total, now - self.started, self.unit), file=self.out,
              flush=True)
        self.lines += 1
