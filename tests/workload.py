"""A deterministic multi-symbol workload made from the real ES trades, for the tests and the fault suite.

Each of the 500,000 ES trades (in time order) is given to one of ``symbols`` instruments, chosen with
Zipf-skewed weights so a few symbols are hot and most are quiet. Every instrument has its own price level
and tick size (the ES price scaled to its level, rounded to its tick) and belongs to one of several
sources; its records carry their own ``seq`` 1, 2, 3 … — so sequence numbers repeat across symbols, as a
feed without trade ids numbers each symbol on its own — and on id-carrying sources a ``trade_id`` that is
also only unique within the symbol. Instrument 0 is ``ES`` itself on XCME, real prices.

With ``reject_share`` > 0, bad records of every kind the processor knows are mixed in after valid ones:
malformed JSON, a missing field, wrong types, non-positive prices and sizes, a timestamp in the future, an
outlier price, an exact re-send of an earlier record (DUPLICATE) and a trade two days behind the stream
(LATE: far enough behind that any established watermark refuses it, so it is LATE however the partitions
interleave). Each message says which reason the processor must give it (``expect``; None for a valid
trade).
The same spec and file always give the same bytes.
"""
from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from connectors.csv_trades import LocalClock

HOUR_NS = 3_600_000_000_000
REJECT_KINDS = ("MALFORMED", "MISSING_FIELD", "BAD_TYPE", "NON_POSITIVE_PRICE", "NEGATIVE_SIZE",
                "NON_POSITIVE_SIZE", "FUTURE_TIMESTAMP", "OUTLIER", "DUPLICATE", "LATE")
FAR_FUTURE_NS = 3_786_912_000_000_000_000  # 2090-01-01
TICKS = (Decimal("0.01"), Decimal("0.05"), Decimal("0.25"), Decimal("0.5"))
ES_LEVEL = Decimal("1640")


@dataclass(frozen=True)
class Instrument:
    symbol: str
    source: str
    venue: str | None
    scale: Decimal
    tick: Decimal
    with_ids: bool


@dataclass(frozen=True)
class WorkloadSpec:
    symbols: int = 200
    sources: tuple[str, ...] = ("feed-a", "feed-b", "feed-c")
    id_sources: tuple[str, ...] = ("feed-b",)   # sources whose trades carry a trade_id
    reject_share: float = 0.0
    zipf_s: float = 1.1
    seed: int = 7
    limit: int | None = None                       # ES rows to use (default: all)
    rejects_after: float = 0.1                     # no rejects in this first share of the stream
    # no LATE before this share: a trade is LATE against an established watermark, and a job reading a
    # backlog (a bounded run) emits its first watermark only after it has read many records
    late_after: float = 0.5


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    symbol: str
    expect: str | None   # the processor's reason code, None for a valid trade


@dataclass
class Workload:
    spec: WorkloadSpec
    instruments: list[Instrument]
    messages: list[Message] = field(default_factory=list)

    def pairs(self) -> list[tuple[bytes, bytes]]:
        return [(m.key, m.value) for m in self.messages]

    def valid_per_symbol(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.messages:
            if m.expect is None:
                out[m.symbol] = out.get(m.symbol, 0) + 1
        return out

    def expected_reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.messages:
            if m.expect is not None:
                out[m.expect] = out.get(m.expect, 0) + 1
        return out


def instruments(spec: WorkloadSpec) -> list[Instrument]:
    rnd = random.Random(spec.seed)
    out = [Instrument("ES", spec.sources[0], "XCME", Decimal(1), Decimal("0.25"), spec.sources[0] in spec.id_sources)]
    for i in range(1, spec.symbols):
        level = Decimal(rnd.choice((5, 12, 27, 48, 95, 180, 350, 720, 1400, 2900)))
        source = spec.sources[i % len(spec.sources)]
        out.append(Instrument(f"S{i:03d}", source, None, level / ES_LEVEL, rnd.choice(TICKS),
                              source in spec.id_sources))
    return out


def _text(d: Decimal) -> str:
    t = format(d, "f")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    return t or "0"


def _price(es_price: str, inst: Instrument) -> str:
    scaled = (Decimal(es_price) * inst.scale / inst.tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * inst.tick
    return _text(max(scaled, inst.tick))


def _record(inst: Instrument, ts: int, recv: int, seq: int, price, size, trade_id: str | None) -> dict:
    return {"v": 1, "source": inst.source, "symbol": inst.symbol, "venue": inst.venue, "ts_event": ts,
            "ts_recv": recv, "seq": seq, "price": price, "size": size, "trade_id": trade_id, "conditions": []}


def _dump(rec: dict) -> bytes:
    return json.dumps(rec, separators=(",", ":")).encode()


def es_rows(csv_path: Path, limit: int | None = None):
    """(ts_event ns, price text, size text) of the ES sample's rows, in file order."""
    clock = LocalClock("America/Chicago")
    with open(csv_path) as f:
        next(f)
        for n, line in enumerate(f):
            if limit is not None and n >= limit:
                return
            stamp, price, size = line.strip().split(",")
            yield clock.to_utc_ns(stamp), price, size


def build(spec: WorkloadSpec, es_csv: Path) -> Workload:
    """The workload's messages in publishing order (see the module's docstring)."""
    insts = instruments(spec)
    w = Workload(spec, insts)
    rnd = random.Random(spec.seed * 7919 + 1)
    weights = [1.0 / (rank + 1) ** spec.zipf_s for rank in range(len(insts))]
    cumulative, total = [], 0.0
    for x in weights:
        total += x
        cumulative.append(total)
    seqs = [0] * len(insts)
    rows = list(es_rows(es_csv, spec.limit))
    start_rejects = int(len(rows) * spec.rejects_after)
    start_late = int(len(rows) * spec.late_after)
    recent: list[Message] = []
    kinds = 0
    for n, (ts, es_price, size) in enumerate(rows):
        i = min(bisect.bisect(cumulative, rnd.random() * total), len(insts) - 1)
        inst = insts[i]
        seqs[i] += 1
        recv = ts + rnd.randrange(1_000_000, 50_000_000)
        trade_id = f"T{seqs[i]}" if inst.with_ids else None
        value = _dump(_record(inst, ts, recv, seqs[i], _price(es_price, inst), size, trade_id))
        msg = Message(inst.symbol.encode(), value, inst.symbol, None)
        w.messages.append(msg)
        recent.append(msg)
        if len(recent) > 1000:
            recent.pop(0)
        if n >= start_rejects and spec.reject_share and rnd.random() < spec.reject_share:
            kind = REJECT_KINDS[kinds % len(REJECT_KINDS)]
            kinds += 1
            if kind == "LATE" and n < start_late:
                kind = "DUPLICATE"
            w.messages.append(_reject(kind, rnd, insts, seqs, ts, recv, recent))
    return w


def _reject(kind: str, rnd: random.Random, insts: list[Instrument], seqs: list[int], ts: int, recv: int,
            recent: list[Message]) -> Message:
    """One bad record of ``kind`` at stream time ``ts``."""
    i = rnd.randrange(len(insts))
    inst = insts[i]
    good = _record(inst, ts, recv, seqs[i] + 1_000_000_000, _price("1640", inst), "1", None)
    if kind == "MALFORMED":
        text = _dump(good)
        value = text[: rnd.randrange(1, len(text) - 1)]
    elif kind == "MISSING_FIELD":
        del good["price"]
        value = _dump(good)
    elif kind == "BAD_TYPE":
        variant = rnd.randrange(5)
        if variant == 0:
            good["price"] = 12.5
        elif variant == 1:
            good["seq"] = -1
        elif variant == 2:
            good["ts_event"] = ts // 1_000_000  # milliseconds
        elif variant == 3:
            good["conditions"] = [12, 37]  # a provider's integer condition codes, not normalised
        else:
            good["trade_id"] = "T\u0000"  # a NUL no database column can store
        value = _dump(good)
    elif kind == "NON_POSITIVE_PRICE":
        good["price"] = rnd.choice(("0", "-1.5"))
        value = _dump(good)
    elif kind == "NEGATIVE_SIZE":
        good["size"] = "-3"
        value = _dump(good)
    elif kind == "NON_POSITIVE_SIZE":
        good["size"] = "0"
        value = _dump(good)
    elif kind == "FUTURE_TIMESTAMP":
        good["ts_event"] = FAR_FUTURE_NS + rnd.randrange(HOUR_NS)
        value = _dump(good)
    elif kind == "OUTLIER":
        es = insts[0]
        good = _record(es, ts, recv, seqs[0] + 1_000_000_000, "1", "1", None)
        return Message(b"ES", _dump(good), "ES", kind)
    elif kind == "DUPLICATE":
        again = recent[rnd.randrange(len(recent))]
        return Message(again.key, again.value, again.symbol, kind)
    elif kind == "LATE":
        seqs[i] += 1
        late = _record(inst, ts - 48 * HOUR_NS, recv, seqs[i], _price("1640", inst), "1",
                       f"T{seqs[i]}" if inst.with_ids else None)
        value = _dump(late)
    else:
        raise ValueError(kind)
    return Message(inst.symbol.encode(), value, inst.symbol, kind)


def closing_messages(w: Workload, after_ns: int) -> list[Message]:
    """One valid trade per instrument at ``after_ns`` (later than every trade of the workload), so the
    watermark of every partition moves past every bar of the workload and each of them closes."""
    out = []
    for inst in w.instruments:
        seq = 2_000_000_000
        out.append(Message(inst.symbol.encode(),
                           _dump(_record(inst, after_ns, after_ns, seq, _price("1640", inst), "1",
                                         f"C{seq}" if inst.with_ids else None)), inst.symbol, None))
    return out
