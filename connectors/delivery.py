"""Delivery accounting: how many records the producer holds unacknowledged, and for how long.

Pure bookkeeping (no Kafka here): ``kafka_publisher.RawPublisher`` asks the ledger for a delivery
callback per record it hands to librdkafka, and the callbacks settle the records. Sends are grouped in
windows of ``width_s`` seconds (one counter each), so the age of the oldest unacknowledged record is known
to within a window without keeping anything per record.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Settle = Callable[[Any, Any], None]  # (error or None, message), as librdkafka reports a delivery


@dataclass(frozen=True)
class DeliveryStatus:
    """A snapshot of the publisher's delivery state (for ``/health``, ``/readyz`` and ``/metrics``)."""

    reachable: bool = True            # a Kafka broker connection is up (librdkafka's view)
    undelivered: int = 0              # records handed to the producer and not yet acknowledged
    oldest_undelivered_s: float = 0.0  # how long the oldest of them has waited
    capacity: int = 0                 # records the producer may hold before the feed is paused
    delivered: int = 0                # acknowledged by Kafka
    failed: int = 0                   # failed permanently (counted, logged, sent to md.dlq when possible)
    fatal: str | None = None          # the producer cannot go on (the service stops)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, error name) → records

    def stuck(self, after_s: float) -> bool:
        """Deliveries are not flowing: Kafka unreachable with records waiting, or one waiting too long."""
        return self.undelivered > 0 and (not self.reachable or self.oldest_undelivered_s > after_s)


class _Window:
    """The records sent within one window: a count of those unsettled, and the window's delivery callback."""

    __slots__ = ("start", "pending", "_settle")

    def __init__(self, start: float, settle: Settle) -> None:
        self.start = start
        self.pending = 0
        self._settle = settle

    def __call__(self, err: Any, msg: Any) -> None:
        self.pending -= 1
        self._settle(err, msg)


class DeliveryLedger:
    """Counts sends and settlements; ``oldest_age()`` is the wait of the oldest unsettled record."""

    def __init__(self, on_settled: Settle, clock: Callable[[], float] = time.monotonic,
                 width_s: float = 0.25) -> None:
        self.on_settled = on_settled
        self.clock = clock
        self.width_s = width_s
        self.sent = 0
        self.delivered = 0
        self.failed = 0
        self._windows: deque[_Window] = deque()
        self._current: _Window | None = None

    @property
    def undelivered(self) -> int:
        return self.sent - self.delivered - self.failed

    def take(self) -> _Window:
        """One record is being sent now: returns the callback that settles it (pass it as ``on_delivery``)."""
        now = self.clock()
        w = self._current
        if w is None or now - w.start >= self.width_s:
            w = self._current = _Window(now, self._settled)
            self._windows.append(w)
        w.pending += 1
        self.sent += 1
        return w

    def _settled(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
        self.on_settled(err, msg)

    def oldest_age(self) -> float:
        """Seconds since the oldest unsettled record was sent (0 when every record is settled)."""
        windows = self._windows
        while windows and windows[0].pending <= 0:
            if windows.popleft() is self._current:
                self._current = None
        return max(0.0, self.clock() - windows[0].start) if windows else 0.0
