"""A deterministic multi-symbol workload made from the real ES trades, for the benchmarks, the tests and the
fault suite.

Each of the 500,000 ES trades (in time order) is given to one of ``symbols`` instruments, chosen with
Zipf-skewed weights so a few symbols are hot and most are quiet. Every instrument has its own price level
and tick size (the ES price scaled to its level, rounded to its tick) and belongs to one of several
sources; its records carry their own ``seq`` 1, 2, 3 … — so sequence numbers repeat across symbols, as a
feed without trade ids numbers each symbol on its own — and on id-carrying sources a ``trade_id`` that is
also only unique within the symbol. Instrument 0 is ``ES`` itself on XCME, real prices.

``rounds`` > 1 repeats the ES sequence: round r is the sample shifted r × ``round_shift_ns`` later (whole
days past the sample's span, so event time keeps moving forward from one round to the next), each
instrument's ``seq`` and ``trade_id`` carrying on from the round before, so ids stay unique per series and
a workload can hold 2M, 4M … trades of the same symbols.

With ``reject_share`` > 0, bad records of every kind the processor knows are mixed in after valid ones:
malformed JSON, a missing field, wrong types, non-positive prices and sizes, a timestamp in the future, an
outlier price, an exact re-send of an earlier record (DUPLICATE) and a trade two days behind the stream
(LATE: far enough behind that any established watermark refuses it, so it is LATE however the partitions
interleave). Each message says which reason the processor must give it (``expect``; None for a valid
trade).

Forms: :func:`build` holds every message in a list (tests); :func:`stream` yields them one at a time and
:class:`Tally` counts what they must become on the way, so a benchmark of millions of trades holds neither;
:func:`publish` sends a stream to Kafka as the fast replay path does (confluent-kafka, large lz4 batches);
:func:`write_jsonl` writes the values as JSON Lines (``tickflow replay --file x.jsonl`` publishes the valid
trades and those rejects that are canonical in form, and skips the rest, naming their lines).
The same spec and file always give the same bytes.
"""
from __future__ import annotations

import bisect
import json
import random
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from connectors.csv_trades import LocalClock

HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS
MINUTE_NS = 60_000_000_000
REJECT_KINDS = ("MALFORMED", "MISSING_FIELD", "BAD_TYPE", "NON_POSITIVE_PRICE", "NEGATIVE_SIZE",
                "NON_POSITIVE_SIZE", "FUTURE_TIMESTAMP", "OUTLIER", "DUPLICATE", "LATE")
FAR_FUTURE_NS = 3_786_912_000_000_000_000  # 2090-01-01
TICKS = (Decimal("0.01"), Decimal("0.05"), Decimal("0.25"), Decimal("0.5"))
ES_LEVEL = Decimal("1640")
RAW_TRADES_TOPIC = "md.raw.trades"


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
    limit: int | None = None                       # ES rows to use per round (default: all)
    rejects_after: float = 0.1                     # no rejects in this first share of the stream
    # no LATE before this share: a trade is LATE against an established watermark, and a job reading a
    # backlog (a bounded run) emits its first watermark only after it has read many records
    late_after: float = 0.5
    rounds: int = 1                                # the ES sequence this many times, each later in time


@dataclass(frozen=True)
class Message:
    key: bytes
    value: bytes
    symbol: str
    expect: str | None   # the processor's reason code, None for a valid trade


@dataclass
class Tally:
    """What a stream of messages must become, counted as it goes by (:meth:`add`): the valid trades per
    symbol, the rejects per reason, the 1m buckets that hold valid trades, and the event-time span."""

    messages: int = 0
    valid: int = 0
    valid_per_symbol: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    minute_bars: set[tuple[str, int]] = field(default_factory=set)   # (symbol, bucket start ns)
    first_ts: int | None = None
    last_ts: int | None = None
    value_bytes: int = 0

    def add(self, m: Message, ts_event: int | None = None) -> None:
        """Count one message; ``ts_event`` (a valid trade's event time) adds its 1m bucket."""
        self.messages += 1
        self.value_bytes += len(m.value)
        if m.expect is not None:
            self.reasons[m.expect] = self.reasons.get(m.expect, 0) + 1
            return
        self.valid += 1
        self.valid_per_symbol[m.symbol] = self.valid_per_symbol.get(m.symbol, 0) + 1
        if ts_event is not None:
            self.minute_bars.add((m.symbol, ts_event - ts_event % MINUTE_NS))
            self.first_ts = ts_event if self.first_ts is None else min(self.first_ts, ts_event)
            self.last_ts = ts_event if self.last_ts is None else max(self.last_ts, ts_event)

    def summary(self) -> dict:
        """The counts as plain JSON values (for a benchmark's result line)."""
        return {"messages": self.messages, "valid": self.valid, "symbols": len(self.valid_per_symbol),
                "rejects_by_reason": dict(sorted(self.reasons.items())), "minute_bars": len(self.minute_bars)}


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


class _Encoder:
    """A valid trade of one instrument as the bytes ``_dump(_record(...))`` gives, by string formatting
    (json.dumps per record was most of the generator's time); prices cached per ES price."""

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        d = json.dumps
        self.head = (f'{{"v":1,"source":{d(inst.source)},"symbol":{d(inst.symbol)},'
                     f'"venue":{d(inst.venue)},"ts_event":')
        self.prices: dict[str, str] = {}

    def price(self, es_price: str) -> str:
        text = self.prices.get(es_price)
        if text is None:
            text = self.prices[es_price] = _price(es_price, self.inst)
        return text

    def encode(self, ts: int, recv: int, seq: int, es_price: str, size: str, with_id: bool) -> bytes:
        trade_id = f'"T{seq}"' if with_id else "null"
        return (f'{self.head}{ts},"ts_recv":{recv},"seq":{seq},"price":"{self.price(es_price)}",'
                f'"size":"{size}","trade_id":{trade_id},"conditions":[]}}').encode()


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


def round_shift_ns(rows: list[tuple[int, str, str]]) -> int:
    """How much later each round is than the one before: whole days past the rows' event-time span."""
    if not rows:
        return DAY_NS
    span = max(r[0] for r in rows) - min(r[0] for r in rows)
    return (span // DAY_NS + 1) * DAY_NS


def _load_rows(spec: WorkloadSpec, es_csv: Path) -> list[tuple[int, str, str]]:
    texts: dict[str, str] = {}   # one string object per distinct price and size: 500k rows, few values
    return [(ts, texts.setdefault(p, p), texts.setdefault(s, s)) for ts, p, s in es_rows(es_csv, spec.limit)]


def stream(spec: WorkloadSpec, es_csv: Path, tally: Tally | None = None,
           rows: list[tuple[int, str, str]] | None = None) -> Iterator[Message]:
    """The workload's messages in publishing order, one at a time (see the module's docstring); ``tally``
    counts each as it is yielded. ``rows``: the ES rows already read (:func:`es_rows`)."""
    insts = instruments(spec)
    rnd = random.Random(spec.seed * 7919 + 1)
    weights = [1.0 / (rank + 1) ** spec.zipf_s for rank in range(len(insts))]
    cumulative, total = [], 0.0
    for x in weights:
        total += x
        cumulative.append(total)
    seqs = [0] * len(insts)
    if rows is None:
        rows = _load_rows(spec, es_csv)
    shift = round_shift_ns(rows)
    length = len(rows) * spec.rounds
    start_rejects = int(length * spec.rejects_after)
    start_late = int(length * spec.late_after)
    encoders = [_Encoder(inst) for inst in insts]
    keys = [inst.symbol.encode() for inst in insts]
    recent: deque[Message] = deque(maxlen=1000)
    kinds = 0
    last = len(insts) - 1
    random_, randrange, bisect_ = rnd.random, rnd.randrange, bisect.bisect
    count = tally.add if tally is not None else None
    n = -1
    for r in range(spec.rounds):
        offset = r * shift
        for es_ts, es_price, size in rows:
            n += 1
            ts = es_ts + offset
            i = min(bisect_(cumulative, random_() * total), last)
            inst = insts[i]
            seqs[i] += 1
            recv = ts + randrange(1_000_000, 50_000_000)
            msg = Message(keys[i], encoders[i].encode(ts, recv, seqs[i], es_price, size, inst.with_ids),
                          inst.symbol, None)
            recent.append(msg)
            if count is not None:
                count(msg, ts)
            yield msg
            if n >= start_rejects and spec.reject_share and random_() < spec.reject_share:
                kind = REJECT_KINDS[kinds % len(REJECT_KINDS)]
                kinds += 1
                if kind == "LATE" and n < start_late:
                    kind = "DUPLICATE"
                bad = _reject(kind, rnd, insts, seqs, ts, recv, list(recent) if kind == "DUPLICATE" else [])
                if count is not None:
                    count(bad)
                yield bad


def build(spec: WorkloadSpec, es_csv: Path) -> Workload:
    """The workload's messages in publishing order, held in a list (see the module's docstring)."""
    return Workload(spec, instruments(spec), list(stream(spec, es_csv)))


@dataclass
class PublishResult:
    published: int = 0
    seconds: float = 0.0
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0


def publish(bootstrap: str, messages: Iterable[Message], topic: str = RAW_TRADES_TOPIC,
            linger_ms: int = 5) -> PublishResult:
    """Send every message to ``topic`` keyed by its symbol (so the key's hash picks the partition), with the
    fast replay path's producer settings (idempotent, acks=all, 1 MB lz4 batches); flushes before it
    returns. Raises when a record was not delivered."""
    from confluent_kafka import Producer

    failures: list[str] = []

    def settled(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, "client.id": "tickflow-workload",
                         "enable.idempotence": True, "acks": "all", "linger.ms": linger_ms,
                         "batch.size": 1_000_000, "compression.type": "lz4",
                         "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 512 * 1024})
    produce, poll = producer.produce, producer.poll
    result = PublishResult()
    started = time.monotonic()
    for m in messages:
        while True:
            try:
                produce(topic, m.value, m.key, on_delivery=settled)
                break
            except BufferError:
                poll(0.05)
        result.published += 1
        if result.published % 1000 == 0:
            poll(0)
    left = producer.flush(120)
    result.seconds = time.monotonic() - started
    result.failed = len(failures) + left
    if result.failed:
        raise RuntimeError(f"{result.failed} of {result.published} records not delivered to {topic}: "
                           f"{failures[:3]}")
    return result


def write_jsonl(messages: Iterable[Message], path: Path, valid_only: bool = False) -> int:
    """The messages' values as JSON Lines (every value is one line: the encoder writes no newline); with
    ``valid_only`` only the valid trades. Returns the lines written."""
    written = 0
    with open(path, "wb") as out:
        for m in messages:
            if valid_only and m.expect is not None:
                continue
            out.write(m.value + b"\n")
            written += 1
    return written


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
