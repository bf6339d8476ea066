"""``tickflow replay``: publish a recorded trades file to ``md.raw.trades``, as fast as possible or paced.

The file's format is chosen by its extension (``docs/providers/replay.md``):

- ``.csv``: ``DateTime,Price,Volume`` in the exchange's local time (the ES sample); the fast path.
- ``.jsonl``: one canonical raw trade (``schemas/raw_trade.schema.json``) per line, published as it is.
- ``.parquet``: columns ``ts_event``, ``price``, ``size`` and optionally ``symbol``, ``trade_id``.
- ``.dbn`` (``.dbn.zst``): Databento files, read by ``connectors.dbn_records`` once it provides the reader
  named in ``READERS`` (see there).

Malformed rows are reported with their line number (Parquet: row number) and skipped; the count of skipped
rows is returned.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from connectors import wire_json
from connectors.csv_trades import CsvTradeNormalizer, CsvTradeSource, RowError
from connectors.csv_vectorised import normalise_clean_csv
from connectors.decimals import decimal_text
from connectors.fields import INT64_MAX, is_clean_text, short
from connectors.kafka_publisher import RawPublisher
from connectors.raw_contract import (
    PositionNumbering,
    RawTrade,
    TradeEncoder,
    is_decimal_text,
)
from tickflow.runtime.progress import Progress

RAW_TRADES_TOPIC = "md.raw.trades"


FAST_CHUNK = 50_000  # records per send_many call of the fast path, so progress is heard between them


class ReplayError(RuntimeError):
    """The file as a whole cannot be replayed (missing, wrong header)."""


@dataclass
class ReplayResult:
    published: int = 0
    skipped: int = 0
    skipped_rows: list[tuple[int, str]] = field(default_factory=list)  # the first few (line, reason)
    seconds: float = 0.0
    failed: int = 0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds > 0 else 0.0


def read_trades(lines: TextIO, meta: CsvTradeSource, result: ReplayResult,
                on_skip: Callable[[int, str], None] | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (ts_event, JSON) for each good row; record skipped rows in ``result``."""
    header = lines.readline().lstrip("\ufeff").strip().split(",")  # a byte order mark (Excel's) is not a name
    if [h.strip() for h in header] != CsvTradeNormalizer.HEADER:
        expected = ",".join(CsvTradeNormalizer.HEADER)
        raise ReplayError(f"line 1: expected header {expected}, got {','.join(header)[:60]!r}")
    normalizer = CsvTradeNormalizer(meta)
    for line_no, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        try:
            yield normalizer.normalize(line, line_no)
        except RowError as exc:
            result.skipped += 1
            if len(result.skipped_rows) < 20:
                result.skipped_rows.append((line_no, str(exc)))
            if on_skip:
                on_skip(line_no, str(exc))


class Pacer:
    """Holds the publisher back to a record rate, or to the file's own clock times a speed factor."""

    def __init__(self, rate: float | None = None, speed: float | None = None) -> None:
        self.rate, self.speed = rate, speed
        self.start = time.monotonic()
        self.first_ts: int | None = None
        self.count = 0

    def wait(self, ts_event: int) -> None:
        self.count += 1
        if self.rate:
            if self.count % 500 == 0:
                ahead = self.count / self.rate - (time.monotonic() - self.start)
                if ahead > 0:
                    time.sleep(ahead)
        elif self.speed:
            if self.first_ts is None:
                self.first_ts = ts_event
            ahead = (ts_event - self.first_ts) / 1e9 / self.speed - (time.monotonic() - self.start)
            if ahead > 0.001:
                time.sleep(ahead)


# --- formats other than CSV ----------------------------------------------------------------------------
#: ``reader(path, meta, result, on_skip)`` yields ``(ts_event, key, value)``: the record's event time (for
#: pacing), its Kafka key (the symbol) and its canonical raw-trade JSON. It records skipped rows in
#: ``result`` with ``skip_row`` and raises ``ReplayError`` when the file as a whole is unusable.
RecordReader = Callable[[Path, CsvTradeSource, ReplayResult, Callable[[int, str], None] | None],
                        Iterator[tuple[int, bytes, bytes]]]


def skip_row(result: ReplayResult, on_skip: Callable[[int, str], None] | None, where: int, reason: str) -> None:
    """Count one malformed row (line or row number ``where``) and report it."""
    result.skipped += 1
    if len(result.skipped_rows) < 20:
        result.skipped_rows.append((where, reason))
    if on_skip:
        on_skip(where, reason)


_TRADE_FIELDS = {"v", "source", "symbol", "venue", "ts_event", "ts_recv", "seq", "price", "size", "trade_id",
                 "conditions"}


def _int_at_least_0(v: Any) -> bool:
    return type(v) is int and 0 <= v <= INT64_MAX


def _text(v: Any, max_len: int) -> bool:
    return isinstance(v, str) and len(v) <= max_len and is_clean_text(v)


def check_raw_trade(rec: Any) -> str | None:
    """Why ``rec`` is not a canonical raw trade (the schema's rules, checked by hand), or None when it is."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    missing = [k for k in ("v", "source", "symbol", "ts_event", "ts_recv", "seq", "price", "size") if k not in rec]
    if missing:
        return f"missing {', '.join(missing)}"
    extra = set(rec) - _TRADE_FIELDS
    if extra:
        return f"unknown field {sorted(extra)[0]!r}"
    if rec["v"] != 1 or type(rec["v"]) is not int:
        return f"v is {rec['v']!r}, expected 1"
    for name in ("source", "symbol"):
        if not _text(rec[name], 32) or not rec[name]:
            return f"{name} must be a string of 1 to 32 characters (Unicode text, no NUL)"
    venue = rec.get("venue")
    if venue is not None and not _text(venue, 16):
        return "venue must be null or a string of at most 16 characters"
    for name in ("ts_event", "ts_recv", "seq"):
        if not _int_at_least_0(rec[name]):
            return f"{name} must be a non-negative integer below 2^63, got {short(rec[name])}"
    for name in ("price", "size"):
        if not isinstance(rec[name], str) or not is_decimal_text(rec[name]):
            return f"{name} {short(rec[name])} is not a decimal string with at most 9+9 digits"
    trade_id = rec.get("trade_id")
    if trade_id is not None and not _text(trade_id, 64):
        return "trade_id must be null or a string of at most 64 characters"
    conditions = rec.get("conditions", [])
    if not isinstance(conditions, list) or not all(_text(c, 32) for c in conditions):
        return "conditions must be a list of strings of at most 32 characters"
    return None


def read_jsonl_trades(path: Path, meta: CsvTradeSource, result: ReplayResult,
                      on_skip: Callable[[int, str], None] | None = None) -> Iterator[tuple[int, bytes, bytes]]:
    """Each line of a JSON Lines file is one canonical raw trade; it is published with its own source,
    symbol and times (``meta`` is not applied), re-encoded in the contract's compact form."""
    with open(path, "rb") as lines:
        yield from jsonl_trades(lines, result, on_skip)


def jsonl_trades(lines: Iterable[bytes], result: ReplayResult,
                 on_skip: Callable[[int, str], None] | None = None) -> Iterator[tuple[int, bytes, bytes]]:
    """``read_jsonl_trades`` over the lines of a JSON Lines file as bytes."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = wire_json.loads(line)
        except ValueError as exc:  # includes bad UTF-8 and too deep nesting
            skip_row(result, on_skip, line_no, f"not JSON: {str(exc).splitlines()[0][:80]}")
            continue
        reason = check_raw_trade(rec)
        if reason:
            skip_row(result, on_skip, line_no, reason)
            continue
        trade = RawTrade(rec["source"], rec["symbol"], rec.get("venue"), rec["ts_event"], rec["ts_recv"],
                         rec["seq"], rec["price"], rec["size"], rec.get("trade_id"),
                         tuple(rec.get("conditions", ())))
        yield trade.ts_event, trade.symbol.encode(), trade.to_json()


def _decimal_column(name: str, typ: Any) -> Callable[[Any], str]:
    """Value → exact decimal text for a Parquet column of type ``typ`` (ValueError for a bad value)."""
    import pyarrow as pa

    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        def text(v: Any) -> str:
            t = v.strip()
            if not is_decimal_text(t):
                raise ValueError(f"{name} {v!r} is not a decimal with at most 9+9 digits")
            return t
        return text
    if pa.types.is_decimal(typ):
        def dec(v: Decimal) -> str:
            try:
                return decimal_text(v)
            except ValueError:
                raise ValueError(f"{name} {v} does not fit DECIMAL(18,9)") from None
        return dec
    if pa.types.is_integer(typ):
        return lambda v: decimal_text(int(v))
    if pa.types.is_floating(typ):
        raise ReplayError(f"column {name} is {typ}: binary floats are not exact, store decimal or string")
    raise ReplayError(f"column {name} is {typ}, expected decimal, string or integer")


def _text_column(name: str, typ: Any) -> None:
    import pyarrow as pa

    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_integer(typ)
            or pa.types.is_null(typ)):
        raise ReplayError(f"column {name} is {typ}, expected string")


def read_parquet_trades(path: Path, meta: CsvTradeSource, result: ReplayResult,
                        on_skip: Callable[[int, str], None] | None = None,
                        batch_size: int = 65_536) -> Iterator[tuple[int, bytes, bytes]]:
    """Trades from a Parquet file, read in record batches.

    ``ts_event``: int64 ns since epoch UTC, or a timestamp (any unit; without a time zone it is read as
    UTC). ``price``/``size``: decimal, string or integer (never float). Optional ``symbol`` (null rows and a
    missing column use ``meta.symbol``) and ``trade_id``. ``source`` and ``venue`` come from ``meta``;
    ``ts_recv`` = ``ts_event``; ``seq`` is each good row's place in time (``raw_contract.position_seq``).
    """
    return parquet_trades(path, path.name, meta, result, on_skip, batch_size)


def parquet_trades(source: Any, name: str, meta: CsvTradeSource, result: ReplayResult,
                   on_skip: Callable[[int, str], None] | None = None,
                   batch_size: int = 65_536) -> Iterator[tuple[int, bytes, bytes]]:
    """``read_parquet_trades`` over ``source`` (a path or a readable file object) called ``name``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(name)  # error messages name the file
    try:
        pf = pq.ParquetFile(source)
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:  # ValueError: a column name that is not UTF-8
        raise ReplayError(f"{path.name}: not a readable Parquet file: {(str(exc).splitlines() or [''])[0][:200]}"
                          ) from None
    missing = [c for c in ("ts_event", "price", "size") if c not in schema.names]
    if missing:
        raise ReplayError(f"{path.name}: no column {', '.join(missing)} (has {', '.join(schema.names)})")
    ts_type = schema.field("ts_event").type
    if not (pa.types.is_integer(ts_type) or pa.types.is_timestamp(ts_type)):
        raise ReplayError(f"{path.name}: column ts_event is {ts_type}, expected int64 ns or timestamp")
    try:
        ns_type = pa.timestamp("ns", tz=ts_type.tz) if pa.types.is_timestamp(ts_type) else None
    except (ValueError, pa.ArrowException) as exc:  # a time zone that is not UTF-8, or not a zone
        raise ReplayError(f"{path.name}: ts_event's time zone cannot be read: {str(exc)[:200]}") from None
    price_of = _decimal_column("price", schema.field("price").type)
    size_of = _decimal_column("size", schema.field("size").type)
    optional = [c for c in ("symbol", "trade_id") if c in schema.names]
    for c in optional:
        _text_column(c, schema.field(c).type)

    encoders: dict[str, TradeEncoder] = {}
    numbering = PositionNumbering()
    row = 0
    for batch in _batches(pf, ["ts_event", "price", "size", *optional], batch_size, path.name):
        ts_col = batch.column("ts_event")
        try:
            if ns_type is not None:
                ts_col = ts_col.cast(ns_type).cast(pa.int64())
        except pa.ArrowException as exc:
            raise ReplayError(f"{path.name}: ts_event cannot be read as ns (beyond their range?): "
                              f"{str(exc)[:200]}") from None
        try:
            ts_list = ts_col.to_pylist()
            prices = batch.column("price").to_pylist()
            sizes = batch.column("size").to_pylist()
            symbols = batch.column("symbol").to_pylist() if "symbol" in optional else None
            ids = batch.column("trade_id").to_pylist() if "trade_id" in optional else None
        except (pa.ArrowException, ValueError, IndexError) as exc:  # text that is not UTF-8, a bad dictionary index
            raise ReplayError(f"{path.name}: rows {row + 1} to {row + batch.num_rows} cannot be read: "
                              f"{str(exc)[:200]}") from None
        for i in range(batch.num_rows):
            row += 1
            ts = ts_list[i]
            if ts is None or not 0 <= ts <= INT64_MAX:
                skip_row(result, on_skip, row, f"ts_event {ts!r} is not a time in the ns range")
                continue
            if prices[i] is None or sizes[i] is None:
                skip_row(result, on_skip, row, "price or size is null")
                continue
            try:
                price, size = price_of(prices[i]), size_of(sizes[i])
            except ValueError as exc:
                skip_row(result, on_skip, row, str(exc))
                continue
            symbol = meta.symbol if symbols is None or symbols[i] is None else str(symbols[i])
            if not _text(symbol, 32) or not symbol:
                skip_row(result, on_skip, row, f"symbol {short(symbol)} is not 1 to 32 characters of text")
                continue
            trade_id = None if ids is None or ids[i] is None else str(ids[i])
            if trade_id is not None and not _text(trade_id, 64):
                skip_row(result, on_skip, row, "trade_id is not text of at most 64 characters")
                continue
            try:
                seq = numbering.seq(symbol, ts)
            except ValueError as exc:
                skip_row(result, on_skip, row, str(exc))
                continue
            if trade_id is None and meta.file_id:
                trade_id = f"{meta.file_id}:{row}"
            if trade_id is None:
                enc = encoders.get(symbol)
                if enc is None:
                    enc = encoders[symbol] = TradeEncoder(meta.source, symbol, meta.venue)
                value = enc.encode(ts, ts, seq, price, size)
            else:
                value = RawTrade(meta.source, symbol, meta.venue, ts, ts, seq, price, size, trade_id).to_json()
            yield ts, symbol.encode(), value


#: a row group is decoded whole; one claiming more is refused rather than read
MAX_ROW_GROUP_BYTES = 1 << 30


def _batches(pf: Any, columns: list[str], batch_size: int, name: str) -> Iterator[Any]:
    """The record batches of a Parquet file, one row group at a time. A row group is decoded whole:
    pyarrow 16's streaming batch reader can crash the process (SIGSEGV) on a corrupt page met after its
    first batch, where reading the row group at once reports the corruption as an error."""
    import pyarrow as pa

    for group in range(pf.num_row_groups):
        size = pf.metadata.row_group(group).total_byte_size
        if not 0 <= size <= MAX_ROW_GROUP_BYTES:
            raise ReplayError(f"{name}: row group {group} claims {size} bytes (at most {MAX_ROW_GROUP_BYTES} read)")
        try:
            table = pf.read_row_group(group, columns=columns)
        except (pa.ArrowException, OSError, MemoryError) as exc:
            raise ReplayError(f"{name}: row group {group} cannot be read: {str(exc).splitlines()[0][:200]}") from None
        yield from table.to_batches(max_chunksize=batch_size)


CSV_SUFFIX = ".csv"  # read by the fast path in replay_file, not through READERS

#: The readers of every other format, by file-name suffix (matched case-insensitively, longest first). A
#: value is a RecordReader, or "module:function" naming one that is imported when such a file is replayed,
#: so that a format's dependencies load only when used.
#:
#: DBN: ``connectors/dbn_records.py`` (Databento's records, being written separately) plugs in by defining
#: ``read_dbn_trades(path, meta, result, on_skip)`` with the RecordReader contract (or by calling
#: ``register_reader(".dbn", ...)``); until it does, replaying a .dbn file is a one-line ReplayError.
READERS: dict[str, RecordReader | str] = {
    ".jsonl": read_jsonl_trades,
    ".parquet": read_parquet_trades,
    ".dbn": "connectors.databento_feed:read_dbn_trades",
    ".dbn.zst": "connectors.databento_feed:read_dbn_trades",
}


def register_reader(suffix: str, reader: RecordReader | str) -> None:
    """Add or replace the reader of files ending in ``suffix`` (e.g. ``".dbn"``)."""
    if suffix.lower() == CSV_SUFFIX:
        raise ValueError("CSV is read by replay_file's own fast path")
    READERS[suffix.lower()] = reader


def supported_suffixes() -> list[str]:
    return [CSV_SUFFIX, *READERS]


def reader_for(path: Path) -> RecordReader | None:
    """The reader of ``path`` by its suffix; None for CSV (the fast path). ReplayError when there is none."""
    name = path.name.lower()
    if name.endswith(CSV_SUFFIX):
        return None
    for suffix in sorted(READERS, key=len, reverse=True):
        if name.endswith(suffix):
            reader = READERS[suffix]
            if isinstance(reader, str):
                module, _, attr = reader.partition(":")
                try:
                    reader = getattr(importlib.import_module(module), attr)
                except (ImportError, AttributeError) as exc:
                    raise ReplayError(f"{path.name}: {suffix} files cannot be replayed yet ({reader} is not "
                                      f"available: {exc})") from None
            return reader
    raise ReplayError(f"{path.name}: unknown format; replay reads {', '.join(supported_suffixes())} files")


def line_count_hint(path: Path) -> int | None:
    """How many records a plain CSV (less its header) or JSON Lines file holds, by counting lines, for a
    progress estimate; None for other formats (compressed, Parquet, DBN)."""
    name = path.name.lower()
    if not name.endswith((".csv", ".jsonl", ".ndjson")):
        return None
    lines = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0) if name.endswith(".csv") else lines


def file_identity(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of the file's bytes: a replayed trade without an id of its own
    is identified as "<this>:<line or row>", so the same file read again repeats its trades (DUPLICATE) and
    two different files never share one (docs/providers/replay.md)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def replay_file(path: Path, publisher: RawPublisher, meta: CsvTradeSource, topic: str = RAW_TRADES_TOPIC,
                rate: float | None = None, speed: float | None = None, limit: int | None = None,
                err: TextIO = sys.stderr, progress: Progress | None = None) -> ReplayResult:
    """Publish every good record of ``path`` (format by suffix, see the module doc); returns counts.
    Flushes before returning. ``meta`` supplies what the file does not say (CSV, Parquet); ``progress``
    hears the count published so far."""
    if not path.is_file():
        raise ReplayError(f"{path}: no such file")
    reader = reader_for(path)
    meta = dataclasses.replace(meta, file_id=file_identity(path))
    result = ReplayResult()
    key = meta.symbol.encode()
    pacer = Pacer(rate, speed)
    started = time.monotonic()

    def report(line_no: int, reason: str) -> None:
        if result.skipped <= 10:
            print(f"{path.name}:{line_no}: skipped: {reason}", file=err)

    fast = None
    if reader is None and rate is None and speed is None:
        fast = normalise_clean_csv(path, meta)  # None unless every row is clean
    if fast is not None:
        values = fast if limit is None else fast[:limit]
        for start in range(0, len(values), FAST_CHUNK):
            publisher.send_many(topic, key, values[start:start + FAST_CHUNK])
            result.published = min(start + FAST_CHUNK, len(values))
            if progress:
                progress.update(result.published)
    elif reader is None:
        with open(path, encoding="utf-8", errors="replace", newline="") as lines:
            for ts, value in read_trades(lines, meta, result, report):
                if limit is not None and result.published >= limit:
                    break
                pacer.wait(ts)
                publisher.send(topic, key, value)
                result.published += 1
                if progress:
                    progress.update(result.published)
    else:
        for ts, record_key, value in reader(path, meta, result, report):
            if limit is not None and result.published >= limit:
                break
            pacer.wait(ts)
            publisher.send(topic, record_key, value)
            result.published += 1
            if progress:
                progress.update(result.published)
    publisher.flush()
    if progress:
        progress.finish(result.published)
    result.failed = publisher.stats.failed
    result.seconds = time.monotonic() - started
    return result
