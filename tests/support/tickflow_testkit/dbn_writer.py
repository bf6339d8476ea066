"""Encoding trades as Databento DBN records and files, for the simulator and the tests.

The decoding side (what the connector runs) is connectors/dbn_records.py; this is its inverse, built on the
same constants, so a file written here is read back by the connector exactly.
"""
from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import databento_dbn as dbn

from connectors.dbn_records import CAPTURE_LATENCY_NS, DEFAULT_DATASET, PRICE_SCALE, PUBLISHER_GLBX_MDP3, R
from connectors.es_sample import Trade


def instrument_id_for(symbol: str) -> int:
    """A stable simulated instrument id for a raw symbol (real ids come from the venue's definitions)."""
    return zlib.crc32(symbol.encode()) or 1


def price_to_fixed(text: str) -> int:
    """Exact decimal text → Databento fixed-point int64 (× 1e-9); ValueError if it does not fit exactly."""
    scaled = Decimal(text) * PRICE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text} has more than 9 decimal places")
    return int(scaled)


def trade_msg(trade: Trade, instrument_id: int, publisher_id: int = PUBLISHER_GLBX_MDP3) -> dbn.TradeMsg:
    """A trade as the ``trades`` schema carries it; ``sequence`` is the trade's index + 1."""
    return dbn.TradeMsg(publisher_id, instrument_id, trade.ts_ns, price_to_fixed(trade.price), int(trade.size),
                        dbn.Action.TRADE, dbn.Side.NONE, 0, trade.ts_ns + CAPTURE_LATENCY_NS,
                        flags=dbn.F_LAST, sequence=trade.index + 1)


def mbp1_msg(trade: Trade, quote: tuple[str, str, str, str], instrument_id: int,
             publisher_id: int = PUBLISHER_GLBX_MDP3) -> dbn.MBP1Msg:
    """The ``mbp-1`` record of a trade event, with the top of book ``quote`` (bid, bid_size, ask, ask_size)."""
    bid, bid_size, ask, ask_size = quote
    level = dbn.BidAskPair(bid_px=price_to_fixed(bid), ask_px=price_to_fixed(ask), bid_sz=int(bid_size),
                           ask_sz=int(ask_size), bid_ct=1, ask_ct=1)
    return dbn.MBP1Msg(publisher_id, instrument_id, trade.ts_ns, price_to_fixed(trade.price), int(trade.size),
                       dbn.Action.TRADE, dbn.Side.NONE, 0, trade.ts_ns + CAPTURE_LATENCY_NS, flags=dbn.F_LAST,
                       sequence=trade.index + 1, levels=level)


def ohlcv_1m_msg(ts_start: int, open_: str, high: str, low: str, close: str, volume: int, instrument_id: int,
                 publisher_id: int = PUBLISHER_GLBX_MDP3) -> dbn.OHLCVMsg:
    return dbn.OHLCVMsg(int(R.OHLCV_1M), publisher_id, instrument_id, ts_start, price_to_fixed(open_),
                        price_to_fixed(high), price_to_fixed(low), price_to_fixed(close), volume)


def symbol_mapping_msg(symbol: str, instrument_id: int, ts_event: int,
                       publisher_id: int = PUBLISHER_GLBX_MDP3) -> dbn.SymbolMappingMsg:
    return dbn.SymbolMappingMsg(publisher_id, instrument_id, ts_event, dbn.SType.RAW_SYMBOL, symbol,
                                dbn.SType.RAW_SYMBOL, symbol, ts_event, dbn.UNDEF_TIMESTAMP)


@dataclass(frozen=True)
class _Interval:
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclass(frozen=True)
class _Mapping:
    raw_symbol: str
    intervals: list[_Interval]


def metadata_bytes(dataset: str, symbols: list[str], start: int, schema: dbn.Schema | None = None,
                   end: int | None = None, mappings: dict[str, int] | None = None) -> bytes:
    """DBN metadata; ``mappings`` (raw symbol → instrument id) as a historical file carries them."""
    intervals = []
    if mappings and end is not None:
        first = dt.datetime.fromtimestamp(start / 1e9, dt.UTC).date()
        last = dt.datetime.fromtimestamp(end / 1e9, dt.UTC).date() + dt.timedelta(days=1)
        intervals = [_Mapping(sym, [_Interval(first, last, str(iid))]) for sym, iid in mappings.items()]
    meta = dbn.Metadata(dataset, start, dbn.SType.RAW_SYMBOL, dbn.SType.INSTRUMENT_ID, schema, symbols=symbols,
                        mappings=intervals or None, end=end)
    return bytes(meta)


# --- files -------------------------------------------------------------------------------------------

def write_dbn_file(trades: Iterable[Trade], path: Path | str, symbol: str = "ES",
                   dataset: str = DEFAULT_DATASET) -> int:
    """Write ``trades`` as a ``trades``-schema DBN file (zstd-compressed if ``path`` ends in ``.zst``).

    The symbol → instrument id mapping goes in the metadata, as in Databento's historical files.
    Returns the number of records written.
    """
    path = Path(path)
    trades = list(trades)
    iid = instrument_id_for(symbol)
    start = trades[0].ts_ns if trades else 0
    end = trades[-1].ts_ns + 1 if trades else 1
    body = b"".join(bytes(trade_msg(t, iid)) for t in trades)
    data = metadata_bytes(dataset, [symbol], start, dbn.Schema.TRADES, end, {symbol: iid}) + body
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        if path.suffix == ".zst":
            with dbn.Transcoder(f, dbn.Encoding.DBN, dbn.Compression.ZSTD) as transcoder:
                transcoder.write(data)
        else:
            f.write(data)
    return len(trades)
