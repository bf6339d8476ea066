"""Every parser of external bytes as a fuzz target: valid seeds in the real wire formats (made with the
simulators' own encoders), an input generator, and ``run(bytes) -> outcome``.

``run`` checks what the parser made of the input (``contract.py``) and names it: ``records``,
``malformed``, ``malformed+records``, ``empty``, ``error`` (the parser's clean refusal of the whole input:
``ProviderError``, ``ReplayError``, a DBN framing error), ``skipped`` (replay rows), ``refused:REASON``
(indicators) and so on. Any other exception is a finding.
"""
from __future__ import annotations

import io
import json
import math
import pickle
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

import databento_dbn as dbn

from connectors import alphavantage, finnhub, polygon
from connectors.csv_trades import CsvTradeSource
from connectors.databento_feed import Normalizer, dbn_item_records, dbn_trades
from connectors.dbn_records import DbnFrameDecoder, FramingError, iter_dbn_chunks, parse_control
from connectors.es_sample import Trade
from connectors.provider import AuthError, ProviderError
from connectors.replay import (
    ReplayError,
    ReplayResult,
    jsonl_trades,
    parquet_trades,
    read_trades,
)
from connectors.rest import json_body
from connectors.symbols import SymbolMap
from tests.unit.fuzz.contract import ContractBroken, check_record, outcome_of
from tests.unit.fuzz.mutate import ByteMutator, JsonMutator
from tickflow_testkit.dbn_writer import mbp1_msg, metadata_bytes, ohlcv_1m_msg, symbol_mapping_msg, trade_msg
from tickflow_testkit.simulators import alphavantage as av_sim
from tickflow_testkit.simulators import finnhub as finnhub_sim
from tickflow_testkit.simulators import polygon as polygon_sim
from tickflow_testkit.simulators.databento import GARBAGE_RECORD
from tickflow_testkit.simulators.market import quote_around

T0 = 1_378_072_800_083_000_000  # 2013-09-01 22:00:00.083 UTC (17:00:00.083 Chicago)
RECV = T0 + 7_000_000
PRICES = ["1640.25", "1640.5", "1640.25", "1639.75", "1640", "1641.25"]
SIZES = ["8", "1", "25", "3", "100", "2"]
TRADES = [Trade(i, T0 + i * 137_000_000 + (40 * 60_000_000_000 if i >= 4 else 0), PRICES[i], SIZES[i])
          for i in range(6)]
META = CsvTradeSource()


def _raw_trade_ok(value: bytes) -> dict:
    """The published raw-trade JSON, checked: the contract, and the canonical encoding of its record."""
    from connectors.raw_contract import RawTrade

    doc = json.loads(value)
    trade = RawTrade(doc["source"], doc["symbol"], doc["venue"], doc["ts_event"], doc["ts_recv"], doc["seq"],
                     doc["price"], doc["size"], doc["trade_id"], tuple(doc["conditions"]))
    check_record(trade)
    if trade.to_json() != value:
        raise ContractBroken(f"published bytes are not the canonical encoding: {value[:200]!r}")
    return doc


def _replayed(out: list[tuple[int, bytes, bytes]], result: ReplayResult) -> str:
    for ts, key, value in out:
        doc = _raw_trade_ok(value)
        if key != doc["symbol"].encode():
            raise ContractBroken("the Kafka key is not the trade's symbol")
        if ts != doc["ts_event"]:
            raise ContractBroken("the pacing time is not the trade's ts_event")
    for where, reason in result.skipped_rows:
        if not isinstance(where, int) or not isinstance(reason, str) or not reason:
            raise ContractBroken(f"a skipped row without its place and reason: {(where, reason)!r}")
    kinds = (["records"] if out else []) + (["skipped"] if result.skipped else [])
    return "+".join(kinds) or "empty"


# --- Polygon ---------------------------------------------------------------------------------------------

POLYGON_MAP = SymbolMap("polygon", {"ES": "ESU3"})


def polygon_frame_seeds() -> list[bytes]:
    aggregates = polygon_sim.minute_aggregates(TRADES, "ESU3")
    frames = [polygon_sim.encode_events([polygon_sim.trade_event(t, "ESU3"), polygon_sim.quote_event(t, "ESU3")])
              for t in TRADES[:3]]
    frames.append(polygon_sim.encode_events(list(aggregates.values())))
    frames.append(polygon_sim.encode_events([polygon_sim.trade_event(t, "ESU3") for t in TRADES]))
    frames.append('[{"ev":"T","sym":"ESU3","x":4,"i":"52983525029461","z":3,"p":1640.25,"s":3,"c":[12,41],'
                  '"t":1378072800083,"q":1063},{"ev":"status","status":"auth_success","message":"authenticated"}]')
    frames.append('[{"ev":"status","status":"connected","message":"Connected Successfully"}]')
    return [f.encode() for f in frames]


def run_polygon_frame(data: bytes) -> str:
    records, status, unknown = polygon.parse_frame(data.decode("utf-8", "replace"), POLYGON_MAP, RECV, "XCME")
    if not all(isinstance(s, dict) for s in status) or not all(isinstance(u, str) and len(u) <= 64 for u in unknown):
        raise ContractBroken(f"status or unknown kinds of the wrong shape: {status!r:.100} {unknown!r:.100}")
    return outcome_of(records)


def polygon_rest_seeds() -> list[bytes]:
    rows = [polygon_sim.rest_trade_row(t) for t in TRADES]
    pages = [{"status": "OK", "request_id": "sim", "results": rows[:3],
              "next_url": "http://127.0.0.1:8765/v3/trades/ES?cursor=1-2&limit=3"},
             {"status": "OK", "request_id": "sim", "results": rows[3:]},
             {"status": "OK", "request_id": "sim", "results": []}]
    return [json.dumps(polygon_sim._prepare(p), separators=(",", ":")).encode() for p in pages]


POLYGON_REST = "http://127.0.0.1:8765"


def run_polygon_rest(data: bytes) -> str:
    try:
        doc = json_body("polygon", POLYGON_REST + "/v3/trades/ES", data)
        batch, next_url = polygon.trades_page(doc, data, "ES", RECV, "XCME", POLYGON_REST)
    except ProviderError:
        return "error"
    if next_url is not None and (not isinstance(next_url, str)
                                 or urlsplit(next_url)[:2] != urlsplit(POLYGON_REST)[:2]):
        raise ContractBroken(f"next page outside the configured REST host: {next_url!r:.200}")
    return outcome_of(batch)


# --- Finnhub ---------------------------------------------------------------------------------------------

FINNHUB_MAP = SymbolMap("finnhub")


def finnhub_frame_seeds() -> list[bytes]:
    frames = [json.dumps({"data": [finnhub_sim.trade_item(t, "ES") for t in TRADES[i:i + 3]], "type": "trade"},
                         separators=(",", ":")) for i in (0, 3)]
    frames += ['{"type":"ping"}', '{"type":"error","msg":"Subscribing to too many symbols"}',
               '{"data":[{"p":7296.89,"s":"ES","t":1575526691134,"v":0.011467,"c":["1","12"]}],"type":"trade"}']
    return [f.encode() for f in frames]


def run_finnhub_frame(data: bytes) -> str:
    records, kind, error = finnhub.parse_frame(data.decode("utf-8", "replace"), FINNHUB_MAP, RECV, "XCME")
    if not isinstance(kind, str) or len(kind) > 64 or not isinstance(error, str) or len(error) > 500:
        raise ContractBroken(f"message type or error text unbounded: {kind!r:.80} {error!r:.80}")
    return outcome_of(records)


def finnhub_ticks_seeds() -> list[bytes]:
    return [json.dumps(finnhub_sim.tick_doc("ES", skip, total, TRADES[skip:skip + n]), separators=(",", ":")).encode()
            for skip, total, n in ((0, 6, 6), (2, 6, 3), (0, 0, 0), (0, 6, 1))]


def run_finnhub_ticks(data: bytes) -> str:
    try:
        doc = finnhub.tick_page(json_body("finnhub", "http://127.0.0.1:8766/api/v1/stock/tick", data), data)
        total, first = finnhub.tick_total(doc), finnhub.first_tick_ms(doc)
        records = finnhub.trades_from_ticks(doc, "ES", RECV, "XCME")
    except ProviderError:
        return "error"
    if not (isinstance(total, int) and 0 <= total <= 2**63 - 1 and isinstance(first, int) and 0 <= first <= 2**63 - 1):
        raise ContractBroken(f"tick total {total!r:.40} or first tick {first!r:.40} is not a count/time")
    return outcome_of(records)


# --- Databento -------------------------------------------------------------------------------------------

DATABENTO_MAP = SymbolMap("databento")
IID = 42


def _dbn_records(with_mapping: bool = True) -> list[bytes]:
    out = [bytes(symbol_mapping_msg("ES", IID, T0))] if with_mapping else []
    minute = T0 // 60_000_000_000 * 60_000_000_000
    out.append(bytes(ohlcv_1m_msg(minute, "1640.25", "1641", "1639.75", "1640.5", 39, IID)))
    for t in TRADES[:3]:
        out.append(bytes(trade_msg(t, IID)))
        out.append(bytes(mbp1_msg(t, quote_around(t), IID)))
    out.append(bytes(dbn.SystemMsg(T0, "Heartbeat", dbn.SystemCode.HEARTBEAT)))
    out.append(bytes(dbn.ErrorMsg(T0, "Symbol XX not found")))
    return out


def databento_live_seeds() -> list[bytes]:
    head = metadata_bytes("GLBX.MDP3", ["ES"], T0)
    records = _dbn_records()
    return [head + b"".join(records), head + b"".join(records[:3]) + GARBAGE_RECORD + b"".join(records[3:]),
            head + records[0] + bytes(dbn.SystemMsg(T0, "Finished trades replay", dbn.SystemCode.REPLAY_COMPLETED))]


_INTS = [0, 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64 - 2, 10**18, T0, 1640_250_000_000]


def dbn_field_edit(rng: random.Random, data: bytes) -> bytes:
    """Overwrite an 8-, 4- or 1-byte field with an edge value (lengths, record types, prices, times)."""
    if len(data) < 16:
        return data
    width = rng.choice((8, 8, 4, 1))
    at = rng.randrange(0, len(data) - width + 1)
    at -= at % width
    value = rng.choice(_INTS) % (1 << (8 * width)) if width > 1 else rng.choice((0, 1, 3, 4, 12, 14, 255, 0x20, 0xA0))
    return data[:at] + value.to_bytes(width, "little") + data[at + width:]


def _chunked(data: bytes) -> list[bytes]:
    """The bytes in the pieces a socket might hand them over in (deterministic per input)."""
    cut = 1 + (sum(data[:64]) % 97)
    return [data[:cut], data[cut:cut * 3], data[cut * 3:]]


def run_databento_live(data: bytes) -> str:
    decoder, norm = DbnFrameDecoder(), Normalizer(DATABENTO_MAP, "XCME")
    out: list[Any] = []
    broken = False
    for piece in _chunked(data):
        try:
            items = decoder.feed(piece)
        except FramingError as exc:
            items, broken = exc.items, True
        out += [r for r in (norm.apply(raw, item, RECV) for raw, item in items) if r is not None]
        if broken:
            break
    kinds = outcome_of(out)
    return f"error+{kinds}" if broken else kinds


def databento_control_seeds() -> list[bytes]:
    return [b"lsg_version=0.4.1\n", b"cram=t7kNhwj4xqR0QYjzFKtBEG2ec2pXJ4FK\n", b"success=1|session_id=5\n",
            b"success=0|error=Authentication failed.\n"]


def run_databento_control(data: bytes) -> str:
    fields = parse_control(data)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise ContractBroken(f"control fields are not text: {fields!r:.200}")
    return "fields" if fields else "empty"


def dbn_file_seeds() -> list[bytes]:
    import zstandard

    body = b"".join(bytes(trade_msg(t, IID)) for t in TRADES)
    plain = metadata_bytes("GLBX.MDP3", ["ES"], TRADES[0].ts_ns, dbn.Schema.TRADES, TRADES[-1].ts_ns + 1,
                           {"ES": IID}) + body
    live_like = databento_live_seeds()[0]
    return [plain, live_like, zstandard.ZstdCompressor().compress(plain)]


def run_dbn_file(data: bytes) -> str:
    from connectors.dbn_records import decompressed_chunks

    compressed = data[:4] == b"\x28\xb5\x2f\xfd"
    chunks = decompressed_chunks(io.BytesIO(data), compressed, 1 << 10)
    batches = list(dbn_item_records(iter_dbn_chunks(chunks, "fuzz.dbn"), DATABENTO_MAP, "XCME"))
    kinds = outcome_of([r for b in batches for r in b])
    result = ReplayResult()
    replayed = _replayed(list(dbn_trades(batches, result, None)), result)
    return f"{kinds}/{replayed}"


# --- Alpha Vantage ---------------------------------------------------------------------------------------

def alphavantage_seeds() -> list[bytes]:
    bars = av_sim.bars_from_trades(TRADES)
    series = {av_sim.eastern_stamp(b.start_ns): b.fields for b in reversed(bars)}
    meta = {"1. Information": "Intraday (1min) open, high, low, close prices and volume", "2. Symbol": "ES",
            "3. Last Refreshed": max(series), "4. Interval": "1min", "5. Output Size": "Compact",
            "6. Time Zone": "US/Eastern"}
    docs = [{"Meta Data": meta, av_sim.SERIES_KEY: series}, {"Error Message": av_sim.BAD_KEY},
            {"Error Message": av_sim.INVALID_CALL}, {"Information": av_sim.LIMIT_INFORMATION.format(per_day=25)},
            {"Note": av_sim.LIMIT_NOTE.format(per_minute=5, per_day=25)}]
    return [json.dumps(d, indent=4).encode() for d in docs]


def run_alphavantage(data: bytes) -> str:
    try:
        answer = alphavantage.read_answer(data, "ES", "ES", RECV)
    except AuthError:
        return "auth_error"
    if answer.kind == "bars":
        return "bars:" + outcome_of([*answer.bars, *answer.bad])
    if answer.kind not in ("wait", "unknown", "bad") or not isinstance(answer.detail, str):
        raise ContractBroken(f"unexpected answer {answer!r:.200}")
    return answer.kind


# --- replay ----------------------------------------------------------------------------------------------

CSV_ROWS = ["2013-09-01 17:00:00.083,1640.25,8", "2013-09-01 17:00:00.083,1640.25,1", "2013-09-01 17:00:01,1640.5,2",
            "2013-09-03 13:51:59.999999999,1639.75,25"]
CSV_DST = ["2013-11-03 01:30:00.5,1700.25,1", "2013-11-03 01:59:59,1700.5,1", "2013-11-03 01:00:00,1700.75,2",
           "2013-11-03 01:30:00,1701,3", "2013-11-03 02:00:00,1701.25,1"]


def csv_seeds() -> list[bytes]:
    head = "DateTime,Price,Volume\n"
    return [(head + "\n".join(CSV_ROWS) + "\n").encode(), (head + "\r\n".join(CSV_DST) + "\r\n").encode(),
            (head + "\n".join(CSV_ROWS[:2]) + "\n2014-03-09 02:30:00,1800,1\n").encode(),
            (head + CSV_ROWS[0]).encode()]


def run_csv_rows(data: bytes) -> str:
    result = ReplayResult()
    try:
        out = [(ts, META.symbol.encode(), value)
               for ts, value in read_trades(io.StringIO(data.decode("utf-8", "replace"), newline=""), META, result)]
    except ReplayError:
        return "error"
    return _replayed(out, result)


def run_csv_vectorised(data: bytes) -> str:
    """The fast path must give the row path's bytes exactly, or decline (None) and leave the file to it."""
    import pyarrow as pa

    from connectors.csv_vectorised import normalise_clean_csv_source

    fast = normalise_clean_csv_source(pa.BufferReader(data), META)
    if fast is None:
        return "row_path"
    result = ReplayResult()
    try:
        slow = [v for _, v in read_trades(io.StringIO(data.decode("utf-8", "replace"), newline=""), META, result)]
    except ReplayError as exc:
        raise ContractBroken(f"fast path read a file the row path refuses: {exc}") from None
    if result.skipped or fast != slow:
        raise ContractBroken(f"fast path differs from the row path ({len(fast)} vs {len(slow)} trades, "
                             f"{result.skipped} skipped by the row path)")
    for value in fast:
        _raw_trade_ok(value)
    return "fast_path"


def jsonl_seeds() -> list[bytes]:
    from connectors.raw_contract import RawTrade

    trades = [RawTrade("polygon", "AAPL", "XNAS", T0, T0 + 5, 42, "189.71", "100", "5298", ("12", "37")),
              RawTrade("replay", "ES", "XCME", T0, T0, 1, "1640.25", "8"),
              RawTrade("databento", "ES", None, T0 + 1, T0 + 20_000, 7002, "-0.5", "3", "42:7:2")]
    lines = [t.to_json() for t in trades]
    return [b"\n".join(lines) + b"\n", lines[0] + b"\r\n\r\n" + lines[1], json.dumps(
        json.loads(lines[0]), indent=1).encode().replace(b"\n", b" ") + b"\n"]


def run_jsonl(data: bytes) -> str:
    result = ReplayResult()
    return _replayed(list(jsonl_trades(io.BytesIO(data), result)), result)


def _parquet_bytes(columns: dict[str, Any], row_group_size: int | None = None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink, row_group_size=row_group_size)
    return sink.getvalue()


def parquet_seeds() -> list[bytes]:
    import pyarrow as pa

    ts = [t.ts_ns for t in TRADES]
    return [
        _parquet_bytes({"ts_event": pa.array(ts, pa.int64()), "price": pa.array(PRICES, pa.string()),
                        "size": pa.array(SIZES, pa.string())}),
        _parquet_bytes({"ts_event": pa.array(ts, pa.timestamp("ns", tz="UTC")),
                        "price": pa.array([Decimal(p) for p in PRICES], pa.decimal128(18, 9)),
                        "size": pa.array([int(s) for s in SIZES], pa.int64()),
                        "symbol": pa.array(["ES", None, "NQ", "ES", "ES", "ES"]),
                        "trade_id": pa.array(["a", "b", None, "d", "e", "f"])}, row_group_size=2),
        _parquet_bytes({"ts_event": pa.array([t // 1000 for t in ts], pa.timestamp("us")),
                        "price": pa.array(PRICES, pa.string()).dictionary_encode(),
                        "size": pa.array([Decimal(s) for s in SIZES], pa.decimal256(40, 2))}),
    ]


def parquet_structure(rng: random.Random) -> bytes:
    """A small Parquet file with random column types and edge values (the structure mutations cannot reach)."""
    import pyarrow as pa

    n = rng.choice((1, 3))
    ts_types = [pa.int64(), pa.uint64(), pa.int32(), pa.timestamp("s"), pa.timestamp("ms", tz="America/Chicago"),
                pa.timestamp("ns"), pa.string(), pa.float64()]
    ts_type = rng.choice(ts_types)
    if pa.types.is_string(ts_type):
        ts_values: list[Any] = [rng.choice(("1", "x", "")) for _ in range(n)]
    elif pa.types.is_floating(ts_type):
        ts_values = [rng.choice((1e18, float("nan"), -1.0)) for _ in range(n)]
    else:
        hi = 2**31 - 1 if ts_type == pa.int32() else (2**64 - 1 if ts_type == pa.uint64() else 2**63 - 1)
        lo = 0 if ts_type == pa.uint64() else -hi - 1
        ts_values = [rng.choice((lo, hi, 0, -1 if lo < 0 else 0, T0 % hi, None)) for _ in range(n)]
    decimals = [pa.decimal128(38, 0), pa.decimal128(18, 9), pa.decimal256(40, 2), pa.decimal128(5, 5)]
    values = {"string": lambda: rng.choice(("1640.25", "-0", "1e9", " 1 ", "", "1" * 30, "\u00b2", None)),
              "int": lambda: rng.choice((0, -1, 2**63 - 1, -2**63, 10**9, None))}

    def price_column() -> Any:
        kind = rng.choice(("string", "int", "decimal", "float", "bool"))
        if kind == "string":
            return pa.array([values["string"]() for _ in range(n)], pa.string())
        if kind == "int":
            return pa.array([values["int"]() for _ in range(n)], pa.int64())
        if kind == "decimal":
            typ = rng.choice(decimals)
            whole, frac = typ.precision - typ.scale, typ.scale
            limit = Decimal(("9" * whole or "0") + ("." + "9" * frac if frac else ""))
            picks = (limit, limit.copy_negate(), Decimal(0), Decimal(1).scaleb(-frac), None)
            return pa.array([rng.choice(picks) for _ in range(n)], typ)
        if kind == "float":
            return pa.array([1.5] * n, pa.float64())
        return pa.array([True] * n, pa.bool_())

    columns: dict[str, Any] = {"ts_event": pa.array(ts_values, ts_type), "price": price_column(),
                               "size": price_column()}
    if rng.random() < 0.5:
        columns["symbol"] = pa.array([rng.choice(("ES", "", "S" * 40, None, "\x00")) for _ in range(n)])
    if rng.random() < 0.3:
        columns["trade_id"] = pa.array([rng.choice((1, 2**62, None)) for _ in range(n)], pa.int64())
    if rng.random() < 0.1:
        del columns[rng.choice(("ts_event", "price", "size"))]
    return _parquet_bytes(columns)


def run_parquet(data: bytes) -> str:
    import pyarrow as pa

    result = ReplayResult()
    try:
        out = list(parquet_trades(pa.BufferReader(data), "fuzz.parquet", META, result, batch_size=2))
    except ReplayError:
        return "error"
    return _replayed(out, result)


# --- the indicators job's md.bars reader -----------------------------------------------------------------

BAR_KEY = "ES|1m"


def bar_seeds() -> list[bytes]:
    base = {"symbol": "ES", "timeframe": "1m", "bucket_start": 1378072800000000000,
            "bucket_end": 1378072860000000000, "open": "1640.25", "high": "1641", "low": "1639.75",
            "close": "1640.5", "volume": "3940", "vwap": "1640.375", "trade_count": 212, "revision": 0,
            "sources": ["replay"], "pipeline_version": "mdp-1"}
    return [json.dumps(base).encode(), json.dumps({**base, "revision": 2, "close": "1641"}).encode(),
            json.dumps({**base, "bucket_start": 1378072860000000000, "bucket_end": 1378072920000000000,
                        "open": "1640.5", "low": "1640.5", "high": "1640.5", "close": "1640.5",
                        "volume": "0.5", "vwap": "1640.5"}, separators=(",", ":")).encode()]


@lru_cache(maxsize=1)
def _warm_series() -> bytes:
    """An indicator series state after 40 ordinary bars, pickled (each input starts from a copy)."""
    from jobs.indicator_series import IndicatorSeries, read_bar

    series = IndicatorSeries(2, 16)
    start = 1378072800000000000 - 40 * 60_000_000_000
    for i in range(40):
        price = 1640 + (i % 7) * 0.25
        doc = {"symbol": "ES", "timeframe": "1m", "bucket_start": start + i * 60_000_000_000,
               "bucket_end": start + (i + 1) * 60_000_000_000, "open": str(price), "high": str(price + 0.5),
               "low": str(price - 0.5), "close": str(price + 0.25), "volume": "100", "vwap": str(price),
               "trade_count": 10, "revision": 0, "sources": ["replay"], "pipeline_version": "mdp-1"}
        series.apply(read_bar(json.dumps(doc).encode(), BAR_KEY, _days)[2])
    return pickle.dumps(series.state())


def _days(symbol: str) -> Callable[[int], int]:
    from jobs.trading_days import trading_days

    days = trading_days("CMES" if symbol == "ES" else None)
    return lambda ts: days.session(ts)[0]


def _own_key(data: bytes) -> str:
    """The series key a producer would give this payload (``symbol|timeframe`` of its own fields), so that
    the reader is also tried with key and payload agreeing on odd values."""
    try:
        doc = json.loads(data)
    except Exception:  # noqa: BLE001 - any payload the producer cannot read keeps the usual key
        return BAR_KEY
    return f"{doc.get('symbol')}|{doc.get('timeframe')}" if isinstance(doc, dict) else BAR_KEY


def run_indicators_bar(data: bytes) -> str:
    from jobs.indicator_series import IndicatorSeries, Refused, read_bar
    from jobs.indicators import indicator_record

    try:
        symbol, timeframe, bar = read_bar(data, BAR_KEY if zlib.crc32(data) % 2 else _own_key(data), _days)
    except Refused as r:
        if not r.reason or not isinstance(r.detail, str) or len(r.detail) > 1000:
            raise ContractBroken(f"refusal without a reason or with an unbounded detail: {r.reason!r}") from None
        return f"refused:{r.reason}"
    p = bar.point
    if not all(math.isfinite(x) for x in (p.high, p.low, p.close, p.volume, p.vwap)):
        raise ContractBroken(f"a bar with a non-finite number reached the series: {p!r}")
    series = IndicatorSeries(2, 16, pickle.loads(_warm_series()))
    try:
        changed = series.apply(bar)
    except Refused as r:
        return f"refused:{r.reason}"
    for start, end, revision, values in changed:
        json.dumps(indicator_record(symbol, timeframe, start, end, revision, 2, values), allow_nan=False)
    return "applied"


# --- the registry ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    seeds: Callable[[], list[bytes]]
    run: Callable[[bytes], str]
    mutator: str = "json"  # "json", "bytes", "dbn", "parquet", "random" (self-tests) or "given" (the corpus)


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("polygon_frame", polygon_frame_seeds, run_polygon_frame),
    Target("polygon_rest", polygon_rest_seeds, run_polygon_rest),
    Target("finnhub_frame", finnhub_frame_seeds, run_finnhub_frame),
    Target("finnhub_ticks", finnhub_ticks_seeds, run_finnhub_ticks),
    Target("databento_live", databento_live_seeds, run_databento_live, "dbn"),
    Target("databento_control", databento_control_seeds, run_databento_control, "bytes"),
    Target("dbn_file", dbn_file_seeds, run_dbn_file, "dbn"),
    Target("alphavantage", alphavantage_seeds, run_alphavantage),
    Target("csv_rows", csv_seeds, run_csv_rows, "bytes"),
    Target("csv_vectorised", csv_seeds, run_csv_vectorised, "bytes"),
    Target("jsonl", jsonl_seeds, run_jsonl, "bytes"),
    Target("parquet", parquet_seeds, run_parquet, "parquet"),
    Target("indicators_bar", bar_seeds, run_indicators_bar),
]}

def _hang_sometimes(data: bytes) -> str:
    """A self-test of the guard: a call into C that does not return for minutes, on ~3% of inputs."""
    if data[0] < 8:
        sum(range(10**12))
    return "ok"


def _crash_sometimes(data: bytes) -> str:
    """A self-test of the guard: a segfault in native code, on ~3% of inputs."""
    if data[0] < 8:
        import ctypes

        ctypes.string_at(0)
    return "ok"


def _any_parser(case: bytes) -> str:
    """The regression corpus in one child: an input is ``parser NUL payload``."""
    parser, _, data = case.partition(b"\0")
    return TARGETS[parser.decode()].run(data)


#: targets that test the harness itself, and the corpus runner (not run by the campaign)
SELF_TESTS: dict[str, Target] = {t.name: t for t in [
    Target("_hang", lambda: [b"\xff"], _hang_sometimes, "random"),
    Target("_crash", lambda: [b"\xff"], _crash_sometimes, "random"),
    Target("_corpus", lambda: [], _any_parser, "given"),
]}

CSV_TOKENS = [b"2013-11-03 01:30:00", b"2014-03-09 02:30:00", b"1e9", b"\xc2\xb2", b"\xef\xbc\x91", b"..", b",,",
              b"9999999999", b".1234567891", b"\"", b"\xef\xbb\xbf", b"\r", b"\t", b"-", b"-0", b"+1"]


def target_named(name: str) -> Target:
    return TARGETS[name] if name in TARGETS else SELF_TESTS[name]


@cache
def _generator(name: str) -> Callable[[random.Random], bytes]:
    target = target_named(name)
    seeds = target.seeds()
    if target.mutator == "random":
        return lambda rng: rng.getrandbits(32).to_bytes(4, "little")
    if target.mutator == "json":
        return JsonMutator(seeds)
    if target.mutator == "dbn":
        return ByteMutator(seeds, extra=dbn_field_edit)
    if target.mutator == "parquet":
        mutate = ByteMutator(seeds)
        return lambda rng: parquet_structure(rng) if rng.random() < 0.1 else mutate(rng)
    tokens = CSV_TOKENS if name.startswith("csv") else None
    mutate = ByteMutator(seeds, tokens)
    if name == "jsonl":  # line-aware: whole lines from the JSON mutator of one trade
        lines = JsonMutator([s.split(b"\n")[0].strip() for s in seeds[:1]] + [jsonl_seeds()[0].split(b"\n")[1]])
        return lambda rng: (b"\n".join(lines(rng) for _ in range(rng.choice((1, 2, 3)))) if rng.random() < 0.6
                            else mutate(rng))
    return mutate


@cache
def warm(name: str) -> None:
    """Run a target's seeds once: its first call loads calendars, zones and codecs, which is not the
    time an input takes."""
    for seed in target_named(name).seeds():
        target_named(name).run(seed)


def warm_for(name: str) -> None:
    """Warm what a run of ``name`` calls: the target, or for the corpus every parser."""
    for target in (TARGETS if name == "_corpus" else [name] if name in TARGETS else []):
        warm(target)


def input_for(name: str, seed: int, index: int) -> bytes:
    """Input ``index`` of a run of ``name`` with ``seed`` (the same bytes every time)."""
    return _generator(name)(random.Random((zlib.crc32(name.encode()) << 48) ^ (seed << 32) ^ index))


__all__ = ["SELF_TESTS", "TARGETS", "Target", "input_for", "target_named", "warm", "warm_for"]
