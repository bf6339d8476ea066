"""Where a restarted connector left off: its positions, read back from the tail of md.raw.trades.

A position (``trade_gate.Position``) is the last published trade of a symbol: its ``ts_event`` and the
multiset of ``(price, size)`` published at that instant, across the feeds of this service (the primary
and the backup publish under their own ``source``; the gate keeps one position per symbol for both).
Seeded with it, the service's first join backfills over the provider's REST API exactly what was not
published yet, as after a reconnect.

Reading: the last ``first`` records of every partition, then further back (four times as many each
round, at most ``max_records`` per partition) only while a symbol is missing, or its last instant may
begin before the records read in its partition (records are keyed by symbol, so a symbol's trades are
in one partition while the topic's partition count stays as it is). Read with ``read_committed``, as any
consumer of the raw topics.
Anything on the topic that is not a canonical trade of one of these sources and symbols is skipped:
the topic is outside input like any other.
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from connectors.kafka_publisher import BrokerUnavailable
from connectors.raw_contract import is_decimal_text
from connectors.trade_gate import Position

log = logging.getLogger("tickflow.connectors.recovery")
RAW_TRADES = "md.raw.trades"


@dataclass(frozen=True)
class PublishedTrade:
    """What a position needs of one record on md.raw.trades."""

    source: str
    symbol: str
    ts_event: int
    price: str
    size: str


def read_published_trade(value: bytes | None) -> PublishedTrade | None:
    """The trade in a raw-trades record value; None for anything that is not a canonical trade."""
    if not value:
        return None
    try:  # UTF-8 only: json.loads(bytes) would also take UTF-16/32 and a byte-order mark
        doc = json.loads(value.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8 (UnicodeDecodeError is a ValueError) or not JSON
        return None
    if not isinstance(doc, dict):
        return None
    source, symbol, ts, price, size = (doc.get(k) for k in ("source", "symbol", "ts_event", "price", "size"))
    if not (isinstance(source, str) and isinstance(symbol, str) and type(ts) is int and ts > 0
            and isinstance(price, str) and isinstance(size, str) and is_decimal_text(price)
            and is_decimal_text(size)):
        return None
    return PublishedTrade(source, symbol, ts, price, size)


@dataclass
class _Last:
    """A symbol's records in one partition's window: its last instant, and where the window starts."""

    ts: int = -1
    at_ts: Counter = field(default_factory=Counter)
    sources: set = field(default_factory=set)
    first_ts: int = -1   # ts_event of the symbol's first record (offset order) in the window


class TailScan:
    """Positions from windows of md.raw.trades that grow backwards, one older chunk at a time."""

    def __init__(self, sources: set[str], symbols: set[str]) -> None:
        self.sources = sources
        self.symbols = symbols
        self.read = 0
        self.skipped = 0   # records that are not trades of this service's sources and symbols
        self._last: dict[tuple[int, str], _Last] = {}
        self._whole: set[int] = set()   # partitions read back to their first record
        self._partitions: set[int] = set()

    def add_older(self, partition: int, values: list[bytes | None], reached_start: bool) -> None:
        """``values`` are the records (offset order) just before what this partition's window held."""
        self._partitions.add(partition)
        if reached_start:
            self._whole.add(partition)
        firsts: dict[str, int] = {}
        for value in values:
            self.read += 1
            trade = read_published_trade(value)
            if trade is None or trade.source not in self.sources or trade.symbol not in self.symbols:
                self.skipped += 1
                continue
            firsts.setdefault(trade.symbol, trade.ts_event)
            last = self._last.get((partition, trade.symbol))
            if last is None:
                last = self._last[(partition, trade.symbol)] = _Last()
            if trade.ts_event > last.ts:
                last.ts, last.at_ts, last.sources = trade.ts_event, Counter(), set()
            if trade.ts_event == last.ts:
                last.at_ts[(trade.price, trade.size)] += 1
                last.sources.add(trade.source)
        for symbol, ts in firsts.items():
            self._last[(partition, symbol)].first_ts = ts

    def positions(self) -> dict[str, Position]:
        """Per symbol: the latest instant over the partitions, with what every feed published at it."""
        out: dict[str, Position] = {}
        for (_, symbol), last in self._last.items():
            pos = out.get(symbol)
            if pos is None or last.ts > pos.ts:
                out[symbol] = Position(last.ts, Counter(last.at_ts))
            elif last.ts == pos.ts:
                pos.at_ts.update(last.at_ts)
        return out

    def sources_at(self, symbol: str) -> set[str]:
        """The sources that published at the symbol's recovered instant (for the log)."""
        pos = self.positions().get(symbol)
        return set().union(*(l.sources for (_, s), l in self._last.items() if s == symbol and pos and l.ts == pos.ts))

    def unsettled(self) -> set[str]:
        """Symbols whose position may still change if older records were read: not found yet (unless every
        partition was read whole), or their last instant may have begun before a window's first record."""
        positions = self.positions()
        out = set()
        for symbol in self.symbols:
            pos = positions.get(symbol)
            if pos is None:
                if self._partitions - self._whole:
                    out.add(symbol)
                continue
            for (p, s), last in self._last.items():
                if s == symbol and last.ts == pos.ts and last.first_ts >= pos.ts and p not in self._whole:
                    out.add(symbol)
        return out


@dataclass(frozen=True)
class Recovery:
    positions: dict[str, Position]
    read: int      # records read from the topic
    skipped: int   # of which not a trade of this service
    unsettled: set[str]   # symbols still uncertain when the scan bound was reached
    sources: dict[str, set[str]] = field(default_factory=dict)   # symbol → sources at its instant


def recover_positions(bootstrap: str, sources: set[str], symbols: set[str], topic: str = RAW_TRADES,
                      first: int = 1000, max_records: int = 100_000, timeout_s: float = 30.0) -> Recovery:
    """Read the topic's tail as described in the module doc. Raises ``BrokerUnavailable`` when Kafka cannot
    be read within ``timeout_s``; a topic that does not exist yet holds no positions."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    deadline = time.monotonic() + timeout_s
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "tickflow-position-recovery",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "enable.partition.eof": True, "auto.offset.reset": "earliest",
                         "logger": logging.getLogger("tickflow.kafka")})
    scan = TailScan(sources, symbols)
    try:
        meta = consumer.list_topics(topic, timeout=max(0.1, deadline - time.monotonic()))
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            return Recovery({}, 0, 0, set())
        bounds: dict[int, tuple[int, int]] = {}
        for p in sorted(info.partitions):
            bounds[p] = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                       timeout=max(0.1, deadline - time.monotonic()))
        start = {p: high for p, (_, high) in bounds.items()}
        step = first
        while True:
            ranges = {p: (max(low, bounds[p][1] - step), start[p]) for p, (low, _) in bounds.items()}
            ranges = {p: r for p, r in ranges.items() if r[0] < r[1]}
            values = _read_ranges(consumer, topic, ranges, deadline) if ranges else {}
            for p, (lo, _) in ranges.items():
                scan.add_older(p, values.get(p, []), lo <= bounds[p][0])
                start[p] = lo
            if not scan.unsettled() or all(start[p] <= low for p, (low, _) in bounds.items()) or step >= max_records:
                break
            step = min(max_records, step * 4)
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot read {topic} at {bootstrap} to recover positions: {exc}") from None
    finally:
        consumer.close()
    positions = scan.positions()
    return Recovery(positions, scan.read, scan.skipped, scan.unsettled(), {s: scan.sources_at(s) for s in positions})


def _read_ranges(consumer, topic: str, ranges: dict[int, tuple[int, int]], deadline: float
                 ) -> dict[int, list[bytes | None]]:
    """The values at offsets [lo, hi) of each partition, in offset order."""
    from confluent_kafka import KafkaError, TopicPartition

    out: dict[int, list[bytes | None]] = {p: [] for p in ranges}
    open_ = set(ranges)
    consumer.assign([TopicPartition(topic, p, lo) for p, (lo, _) in ranges.items()])
    try:
        while open_:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"reading {topic} to recover positions took too long")
            for msg in consumer.consume(num_messages=10_000, timeout=0.2):
                p = msg.partition()
                if p not in open_:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        open_.discard(p)
                        continue
                    raise BrokerUnavailable(f"reading {topic} to recover positions: {err.str()}")
                hi = ranges[p][1]
                if msg.offset() < hi:
                    out[p].append(msg.value())
                if msg.offset() >= hi - 1:
                    open_.discard(p)
    finally:
        consumer.unassign()
    return out
