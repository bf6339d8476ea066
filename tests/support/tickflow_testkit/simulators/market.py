"""The simulated market behind every provider simulator: recorded trades released on a clock.

Trade ``i`` happens at ``start + i / rate`` (wall clock). A live socket is sent the trades that happen
while it is subscribed, as a real feed is; the history (REST) endpoints answer with every trade that has
happened so far. Two simulators built from the same trades and start time run the same market, which is
what the failover tests need.
"""
from __future__ import annotations

import time
from decimal import Decimal

from connectors.es_sample import Trade


def quote_around(trade: Trade, tick: str = "0.25") -> tuple[str, str, str, str]:
    """(bid, bid_size, ask, ask_size) straddling a trade by one tick.

    No recorded quotes are available offline, so the simulators derive the top of book from the real
    trades: the trade price is touched on one side and the other side is a tick away.
    """
    price = Decimal(trade.price)
    step = Decimal(tick)
    bid = price if trade.index % 2 == 0 else price - step
    return str(bid), trade.size, str(bid + step), str(max(1, int(Decimal(trade.size)) // 2 + 1))


class Market:
    """Releases ``trades`` at ``rate`` per second from ``start`` (``time.monotonic`` seconds).

    With ``opened=False`` nothing happens until ``open()`` (tests open the market once a client is in).
    """

    def __init__(self, trades: list[Trade], rate: float, start: float | None = None, opened: bool = True) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.trades = trades
        self.rate = rate
        self.start: float | None = (time.monotonic() if start is None else start) if opened else None
        # Trades that share an exchange timestamp happened at the same instant: they are released together.
        self._instant_end = [0] * len(trades)
        end = len(trades)
        for i in range(len(trades) - 1, -1, -1):
            if i + 1 < len(trades) and trades[i + 1].ts_ns != trades[i].ts_ns:
                end = i + 1
            self._instant_end[i] = end

    def happened(self, now: float | None = None) -> int:
        """How many trades have happened by ``now`` (never part of an instant)."""
        if self.start is None:
            return 0
        now = time.monotonic() if now is None else now
        n = max(0, min(len(self.trades), int((now - self.start) * self.rate)))
        return self._instant_end[n - 1] if n > 0 else 0

    def open(self, at: float | None = None) -> None:
        """Start the clock now (or at ``at``)."""
        self.start = time.monotonic() if at is None else at

    @property
    def finished(self) -> bool:
        return self.happened() >= len(self.trades)

    def history(self, since_ns: int, limit: int, after_index: int = -1) -> list[Trade]:
        """Happened trades with ``ts_ns >= since_ns`` and index > ``after_index``, oldest first."""
        done = self.happened()
        lo = self._first_at_or_after(since_ns, done)
        lo = max(lo, after_index + 1)
        return self.trades[lo:min(done, lo + limit)]

    def _first_at_or_after(self, ts_ns: int, hi: int) -> int:
        lo = 0
        while lo < hi:
            mid = (lo + hi) // 2
            if self.trades[mid].ts_ns < ts_ns:
                lo = mid + 1
            else:
                hi = mid
        return lo
