"""Hypothesis strategies that build inputs by structure: valid documents with any JSON value in any field
(deep, wide, huge, odd text), fields dropped or added; DBN records with any field value; CSV rows of any
time, price and size; Parquet files of random column types (see ``targets.parquet_structure``)."""
from __future__ import annotations

import json
from typing import Any

import databento_dbn as dbn
from hypothesis import strategies as st

from tests.unit.fuzz.mutate import NUMBERS, STRINGS, Raw, nested, wide

# --- JSON -------------------------------------------------------------------------------------------------

number_texts = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,12})?", fullmatch=True),
).map(Raw)
texts = st.one_of(st.sampled_from(STRINGS), st.text(st.characters(codec="utf-8"), max_size=40),
                  st.text(st.characters(categories=["Cs", "Nd", "No", "Zs", "Cc"]), max_size=8))
scalars = st.one_of(st.none(), st.booleans(), number_texts, texts,
                    st.sampled_from([nested(3000), nested(1000, "{"), wide("1", 2000)]).map(Raw))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(texts, inner, max_size=4)),
                           max_leaves=8)


def emit(value: Any) -> str:
    """JSON text of a generated value (``Raw`` parts as they are; lone surrogates escaped by json.dumps)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(emit(v) for v in value) + "]"
    return json.dumps(value)


@st.composite
def varied(draw: st.DrawFn, template: dict) -> dict:
    """``template`` with some fields given any JSON value, some dropped, maybe one added."""
    doc = dict(template)
    keys = sorted(doc)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)) if keys else []:
        doc[key] = draw(json_values)
    for key in draw(st.lists(st.sampled_from(keys), max_size=1)) if keys else []:
        doc.pop(key, None)
    if draw(st.booleans()):
        doc[draw(texts)] = draw(json_values)
    return doc


def documents(templates: list[dict], wrap: Any = None) -> st.SearchStrategy[bytes]:
    """JSON bytes: one ``varied`` template, or a list of them when ``wrap`` is ``list``."""
    doc = st.sampled_from(templates).flatmap(varied)
    if wrap is list:
        return st.lists(doc, min_size=1, max_size=4).map(lambda docs: emit(docs).encode("utf-8", "surrogatepass"))
    return doc.map(lambda d: emit(d).encode("utf-8", "surrogatepass"))


# --- DBN --------------------------------------------------------------------------------------------------

u8, u16, u32 = st.integers(0, 2**8 - 1), st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)
u64 = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 2**63 - 1, 2**63, 2**64 - 1, 1_378_072_800_083_000_000]))
i64 = st.one_of(st.integers(-2**63, 2**63 - 1), st.sampled_from([dbn.UNDEF_PRICE, -2**63, 0, 1640_250_000_000]))
instrument = st.sampled_from([42, 7, 0, 2**32 - 1])


def _trade(publisher: int, iid: int, ts: int, price: int, size: int, recv: int, seq: int) -> bytes:
    return bytes(dbn.TradeMsg(publisher, iid, ts, price, size, dbn.Action.TRADE, dbn.Side.NONE, 0, recv,
                              sequence=seq))


def _mbp1(publisher: int, iid: int, ts: int, bid: int, ask: int, bid_sz: int, ask_sz: int, seq: int) -> bytes:
    level = dbn.BidAskPair(bid_px=bid, ask_px=ask, bid_sz=bid_sz, ask_sz=ask_sz, bid_ct=1, ask_ct=1)
    return bytes(dbn.MBP1Msg(publisher, iid, ts, ask, 1, dbn.Action.TRADE, dbn.Side.NONE, 0, ts, sequence=seq,
                             levels=level))


def _ohlcv(rtype: int, iid: int, ts: int, o: int, h: int, l: int, c: int, v: int) -> bytes:
    return bytes(dbn.OHLCVMsg(rtype, 1, iid, ts, o, h, l, c, v))


def _mapping(iid: int, symbol: str) -> bytes:
    return bytes(dbn.SymbolMappingMsg(1, iid, 0, dbn.SType.RAW_SYMBOL, symbol, dbn.SType.RAW_SYMBOL, symbol, 0,
                                      dbn.UNDEF_TIMESTAMP))


dbn_records = st.one_of(
    st.builds(_trade, u16, instrument, u64, i64, u32, u64, u32),
    st.builds(_mbp1, u16, instrument, u64, i64, i64, u32, u32, u32),
    st.builds(_ohlcv, st.sampled_from([int(dbn.RType.OHLCV_1S), int(dbn.RType.OHLCV_1M), int(dbn.RType.OHLCV_1H),
                                       int(dbn.RType.OHLCV_1D), int(dbn.RType.OHLCV_EOD)]),
              instrument, u64, i64, i64, i64, i64, u64),
    st.builds(_mapping, instrument, st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=40)),
    st.builds(lambda t: bytes(dbn.SystemMsg(t, "Heartbeat", dbn.SystemCode.HEARTBEAT)), u64),
    st.builds(lambda t, s: bytes(dbn.ErrorMsg(t, s)), u64, st.text(st.characters(codec="ascii",
                                                                                 exclude_characters="\x00"),
                                                                   max_size=60)),
    st.binary(min_size=1, max_size=80),  # a record of any length and type, or a torn one
)


def dbn_stream(head: bytes) -> st.SearchStrategy[bytes]:
    """``head`` (DBN metadata) and any sequence of records, valid or not."""
    return st.lists(dbn_records, max_size=8).map(lambda records: head + b"".join(records))


# --- CSV --------------------------------------------------------------------------------------------------

stamps = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.tuples(st.datetimes(), st.integers(0, 10**12)).map(lambda t: f"{t[0]:%Y-%m-%d %H:%M:%S}.{t[1]}"),
    st.sampled_from(["2013-11-03 01:30:00", "2014-03-09 02:30:00", "9999-12-31 23:59:59", "0001-01-01 00:00:00",
                     "1969-12-31 18:00:00", "2013-09-01 17:00:00.\u00b2", "２０１３-09-01 17:00:00"]),
    st.text(max_size=30),
)
csv_numbers = st.one_of(number_texts.map(str), st.text(max_size=12))
csv_rows = st.tuples(stamps, csv_numbers, csv_numbers).map(lambda r: ",".join(r))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from(["DateTime,Price,Volume", "DateTime,Price,Volume ", "\ufeffDateTime,Price,Volume",
                                   "Price,DateTime,Volume", ""]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = draw(st.lists(st.one_of(csv_rows, st.sampled_from(["2013-09-01 17:00:00.083,1640.25,8", ""])),
                         max_size=6))
    return end.join([header, *rows]).encode("utf-8", "surrogatepass") + draw(st.sampled_from([b"", b"\n"]))


def parsed(seed: bytes) -> Any:
    """A seed document with its numbers kept as their text."""
    return json.loads(seed, parse_int=Raw, parse_float=Raw, parse_constant=Raw)
