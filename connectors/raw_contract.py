"""Encoding records in the canonical raw contracts (``schemas/raw_*.schema.json``, ``schemas/dlq.schema.json``).

Every connector ends here, so the wire forms of ``md.raw.trades``, ``md.raw.quotes``, ``md.raw.bars`` and a
connector's ``md.dlq`` records are written in exactly one place.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from tickflow.runtime import dead_letter

CONTRACT_VERSION = 1
SEQ_PER_MS = 100_000  # place-in-time seqs: trades one symbol may have in one millisecond
# DECIMAL(18,9): at most 9 integer and 9 fractional digits, optional sign.
DECIMAL_TEXT = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,9})?")


def is_decimal_text(text: str) -> bool:
    """True when ``text`` is a decimal the contract can carry exactly (no exponent, no float noise)."""
    return DECIMAL_TEXT.fullmatch(text) is not None


@lru_cache(maxsize=4096)
def _js(text: str | None) -> str:
    """JSON text of a short string (source, symbol, venue, id, condition), cached: they repeat."""
    return json.dumps(text)


def _js_list(items: tuple[str, ...]) -> str:
    return "[" + ",".join(_js(i) for i in items) + "]"


def position_seq(ts_event_ns: int, rank: int) -> int:
    """A seq from a trade's place in time, for feeds and files without sequence numbers: its millisecond ×
    100,000 + its rank among its symbol's trades of that millisecond (0, 1, …). The same trade gets the same
    seq however often it is read, trades of different files or sessions do not collide, and seqs grow with
    time, so ties on ``ts_event`` keep the order they were read in."""
    if not 0 <= rank < SEQ_PER_MS:
        raise ValueError(f"more than {SEQ_PER_MS} trades of one symbol in the millisecond of {ts_event_ns}")
    return ts_event_ns // 1_000_000 * SEQ_PER_MS + rank


class PositionNumbering:
    """Ranks each symbol's trades within their millisecond, in the order they are read, for ``position_seq``.

    It remembers the counts of each symbol's last ``memory`` milliseconds: a file in time order (or out of
    order by less than that) numbers every trade uniquely; a millisecond read again after more than
    ``memory`` others starts counting from 0 again (docs/providers/replay.md)."""

    def __init__(self, memory: int = 10_000) -> None:
        self.memory = memory
        self._counts: dict[str, dict[int, int]] = {}

    def seq(self, symbol: str, ts_event_ns: int) -> int:
        ms = ts_event_ns // 1_000_000
        counts = self._counts.setdefault(symbol, {})
        rank = counts.get(ms, 0)
        counts[ms] = rank + 1
        if rank == 0 and len(counts) > self.memory:
            del counts[next(iter(counts))]  # the oldest millisecond first seen (dicts keep insertion order)
        return position_seq(ts_event_ns, rank)


@dataclass(frozen=True)
class RawTrade:
    """One canonical raw trade. Prices and sizes stay text so that they are never rounded."""

    source: str
    symbol: str
    venue: str | None
    ts_event: int
    ts_recv: int
    seq: int
    price: str
    size: str
    trade_id: str | None = None
    conditions: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        # Written by hand (the same bytes json.dumps gives): this runs once per trade on the hot path.
        # Decimal texts need no escaping: they match DECIMAL_TEXT before they get here.
        return (f'{{"v":{CONTRACT_VERSION},"source":{_js(self.source)},"symbol":{_js(self.symbol)},'
                f'"venue":{_js(self.venue)},"ts_event":{self.ts_event},"ts_recv":{self.ts_recv},"seq":{self.seq},'
                f'"price":"{self.price}","size":"{self.size}","trade_id":'
                f'{"null" if self.trade_id is None else json.dumps(self.trade_id)},'
                f'"conditions":{_js_list(self.conditions)}}}').encode()


@dataclass(frozen=True)
class RawQuote:
    """One canonical top-of-book quote (``schemas/raw_quote.schema.json``)."""

    source: str
    symbol: str
    venue: str | None
    ts_event: int
    ts_recv: int
    seq: int
    bid: str
    bid_size: str
    ask: str
    ask_size: str

    def to_json(self) -> bytes:
        return (f'{{"v":{CONTRACT_VERSION},"source":{_js(self.source)},"symbol":{_js(self.symbol)},'
                f'"venue":{_js(self.venue)},"ts_event":{self.ts_event},"ts_recv":{self.ts_recv},"seq":{self.seq},'
                f'"bid":"{self.bid}","bid_size":"{self.bid_size}","ask":"{self.ask}",'
                f'"ask_size":"{self.ask_size}"}}').encode()


@dataclass(frozen=True)
class RawBar:
    """One bar a provider built (``schemas/raw_bar.schema.json``); kept for cross-checks against md.bars."""

    source: str
    symbol: str
    timeframe: str
    ts_start: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    ts_recv: int
    vwap: str | None = None
    trade_count: int | None = None

    def to_json(self) -> bytes:
        return json.dumps({
            "v": CONTRACT_VERSION, "source": self.source, "symbol": self.symbol, "timeframe": self.timeframe,
            "ts_start": self.ts_start, "open": self.open, "high": self.high, "low": self.low,
            "close": self.close, "volume": self.volume, "vwap": self.vwap, "trade_count": self.trade_count,
            "ts_recv": self.ts_recv,
        }, separators=(",", ":")).encode()


def dlq_json(reason: str, detail: str, origin: str, original: bytes, component: str,
             seen_at: int | None = None) -> bytes:
    """A connector's ``md.dlq`` record: ``origin`` names the provider (tickflow/runtime/dead_letter.py)."""
    return json.dumps(dead_letter.record(reason, detail, origin, original, component, seen_at=seen_at),
                      separators=(",", ":")).encode()


class TradeEncoder:
    """Fast encoder for many trades of one (source, symbol, venue): the constant part is built once.

    Produces bytes identical to ``RawTrade(...).to_json()`` for trades without conditions whose id, if any,
    needs no JSON escaping (a replayed file's ``<digest>:<line>``).
    """

    def __init__(self, source: str, symbol: str, venue: str | None) -> None:
        d = json.dumps
        self._head = f'{{"v":{CONTRACT_VERSION},"source":{d(source)},"symbol":{d(symbol)},"venue":{d(venue)},'

    def encode(self, ts_event: int, ts_recv: int, seq: int, price: str, size: str,
               trade_id: str | None = None) -> bytes:
        tid = "null" if trade_id is None else f'"{trade_id}"'
        return (f'{self._head}"ts_event":{ts_event},"ts_recv":{ts_recv},"seq":{seq},'
                f'"price":"{price}","size":"{size}","trade_id":{tid},"conditions":[]}}').encode()
