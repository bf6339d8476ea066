"""What may be published: each trade once, across reconnects, backfills and failovers.

Two guards, both in event time:

- ``RecentIds`` drops a ``(source, trade_id)`` already published (a provider resending, a backfill page
  overlapping the stream). Feeds without ids are covered by the position guard alone.
- ``TradeGate`` keeps, per symbol, the *position* of the last published trade: its ``ts_event`` and the
  multiset of ``(price, size)`` published at that instant. Whenever a feed (re)joins — a reconnect
  followed by a backfill, or another provider taking over — a boundary is set at the current position,
  and the joining feed's trades before it are dropped, as are the ones at the boundary instant that were
  already published. This needs no shared ids between providers, only that each provider delivers a
  symbol's trades in time order (true of the feeds here; documented in docs/connectors.md).
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field


class RecentIds:
    """A bounded set of ``(source, trade_id)`` keys seen within ``horizon_ns`` of event time."""

    def __init__(self, horizon_ns: int = 600 * 10**9, max_size: int = 2_000_000) -> None:
        self.horizon_ns = horizon_ns
        self.max_size = max_size
        self._keys: set[tuple[str, str]] = set()
        self._order: deque[tuple[int, tuple[str, str]]] = deque()
        self._newest = 0

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._keys

    def add(self, key: tuple[str, str], ts_ns: int) -> bool:
        """Record ``key``; False if it was already there (a duplicate)."""
        if key in self._keys:
            return False
        self._keys.add(key)
        self._order.append((ts_ns, key))
        self._newest = max(self._newest, ts_ns)
        while self._order and (len(self._keys) > self.max_size
                               or self._order[0][0] < self._newest - self.horizon_ns):
            self._keys.discard(self._order.popleft()[1])
        return True

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class Position:
    """The last published trade of a symbol: its instant and what was published at that instant."""

    ts: int = -1
    at_ts: Counter = field(default_factory=Counter)

    def advance(self, ts: int, content: tuple[str, str]) -> None:
        if ts > self.ts:
            self.ts = ts
            self.at_ts = Counter()
        if ts == self.ts:
            self.at_ts[content] += 1

    def published_at_ts(self) -> int:
        return sum(self.at_ts.values())


class TradeGate:
    """Per-symbol positions and the boundaries set when a feed joins."""

    def __init__(self) -> None:
        self.positions: dict[str, Position] = {}
        self._boundaries: dict[tuple[str, str], Position] = {}

    def position(self, symbol: str) -> Position | None:
        return self.positions.get(symbol)

    def seed(self, positions: dict[str, Position]) -> None:
        """Start from positions published before this process (recovered from the topic after a restart)."""
        for symbol, pos in positions.items():
            self.positions[symbol] = Position(pos.ts, Counter(pos.at_ts))

    def set_boundary(self, feed: str, symbol: str) -> None:
        """``feed`` is (re)joining: its trades up to the current position of ``symbol`` are duplicates."""
        pos = self.positions.get(symbol)
        if pos is None:
            self._boundaries.pop((feed, symbol), None)
        else:
            self._boundaries[(feed, symbol)] = Position(pos.ts, Counter(pos.at_ts))

    def behind_boundary(self, feed: str, symbol: str, ts: int, content: tuple[str, str]) -> bool:
        """True if the trade is at or before the feed's boundary and so already published.

        A trade at the boundary instant uses up one published trade of the same content there.
        """
        boundary = self._boundaries.get((feed, symbol))
        if boundary is None:
            return False
        if ts < boundary.ts:
            return True
        if ts == boundary.ts and boundary.at_ts[content] > 0:
            boundary.at_ts[content] -= 1
            return True
        if ts > boundary.ts:
            del self._boundaries[(feed, symbol)]
        return False

    def admit(self, feed: str, symbol: str, ts: int, content: tuple[str, str]) -> bool:
        """True if the trade is new: publish it (the position advances). False if it is a duplicate."""
        if self.behind_boundary(feed, symbol, ts, content):
            return False
        self.positions.setdefault(symbol, Position()).advance(ts, content)
        return True
