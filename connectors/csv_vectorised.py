"""The CSV replay's fast path: a whole clean file normalised with Arrow compute instead of row by row.

Same bytes as ``CsvTradeNormalizer`` (a unit test holds them equal), ~3× less CPU per trade, which is what
lets one Python process publish the ES sample faster than the processor consumes it. It applies only to
files the row path would read without a single complaint and without daylight-saving ambiguity: any row
that does not match the strict shapes, a local time in the spring gap, or one inside the autumn overlap
(whose reading depends on the rows before it) sends the whole file down the row path, which reports
each bad row with its line number.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from connectors.csv_trades import MAX_SECONDS, CsvTradeNormalizer, CsvTradeSource
from connectors.raw_contract import SEQ_PER_MS

MAX_BYTES = 1 << 30  # the file is held in memory as Arrow columns and JSON: larger files take the row path
_STAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
_DECIMAL = r"^-?[0-9]{1,9}(\.[0-9]{1,9})?$"


def _local_seconds_to_utc(texts: list[str], tz: str) -> list[int] | None:
    """UTC epoch seconds of each distinct local ``YYYY-MM-DD HH:MM:SS``; None if any is missing or ambiguous."""
    zone = ZoneInfo(tz)
    out: list[int] = []
    for text in texts:
        try:
            naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        first = naive.replace(tzinfo=zone, fold=0)
        if first.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
            return None  # in the autumn overlap (or the spring gap): the row path decides row by row
        try:
            if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
                return None
        except OverflowError:
            return None
        seconds = int(first.timestamp())
        if not 0 <= seconds < MAX_SECONDS:
            return None  # outside the ns range: the row path reports the row
        out.append(seconds)
    return out


def place_in_time_seqs(ns: np.ndarray) -> np.ndarray | None:
    """``raw_contract.position_seq`` of every row of a file in time order (each row's rank in its
    millisecond); None when the file steps back in time anywhere (the row path numbers it) or a millisecond
    holds too many trades."""
    ms = ns // 1_000_000
    if len(ms) > 1 and bool(np.any(ms[1:] < ms[:-1])):
        return None
    index = np.arange(len(ms), dtype=np.int64)
    starts = np.ones(len(ms), dtype=bool)
    starts[1:] = ms[1:] != ms[:-1]
    rank = index - np.maximum.accumulate(np.where(starts, index, 0))
    if len(rank) and int(rank.max()) >= SEQ_PER_MS:
        return None
    return ms * SEQ_PER_MS + rank


def normalise_clean_csv(path: Path, meta: CsvTradeSource) -> list[bytes] | None:
    """Every row of ``path`` as raw-trade JSON, in file order; None when the file needs the row path."""
    if path.stat().st_size > MAX_BYTES:
        return None
    return normalise_clean_csv_source(path, meta)


def normalise_clean_csv_source(source: Any, meta: CsvTradeSource) -> list[bytes] | None:
    """``normalise_clean_csv`` over ``source``: a path or a readable file object (e.g. ``pa.BufferReader``).

    Any failure of Arrow on the bytes (not CSV, not UTF-8, a header that is not text) is None too: the row
    path then reads the file and reports what is wrong with it.
    """
    try:
        table = pacsv.read_csv(source, read_options=pacsv.ReadOptions(column_names=None),
                               parse_options=pacsv.ParseOptions(quote_char=False, escape_char=False,
                                                                ignore_empty_lines=False),
                               convert_options=pacsv.ConvertOptions(
                                   column_types={c: pa.string() for c in CsvTradeNormalizer.HEADER},
                                   strings_can_be_null=False))
        if table.column_names != CsvTradeNormalizer.HEADER or table.num_rows == 0:
            return None
    except (pa.ArrowException, OSError, ValueError):  # ValueError: UnicodeDecodeError of a header name
        return None
    stamp, price, size = (table.column(c).combine_chunks() for c in CsvTradeNormalizer.HEADER)
    for column, pattern in ((stamp, _STAMP), (price, _DECIMAL), (size, _DECIMAL)):
        if not pc.all(pc.match_substring_regex(column, pattern)).as_py():
            return None
    seconds = pc.utf8_slice_codeunits(stamp, 0, 19).dictionary_encode()
    utc = _local_seconds_to_utc(seconds.dictionary.to_pylist(), meta.tz)
    if utc is None:
        return None
    base_ns = np.asarray(utc, dtype=np.int64)[seconds.indices.to_numpy()] * 1_000_000_000
    frac_ns = pc.cast(pc.utf8_rpad(pc.utf8_slice_codeunits(stamp, 20, 29), 9, "0"), pa.int64()).to_numpy()
    ns = base_ns + frac_ns
    seq_values = place_in_time_seqs(ns)
    if seq_values is None:
        return None
    ts = pa.array(ns).cast(pa.string())
    seq = pa.array(seq_values).cast(pa.string())
    head = CsvTradeNormalizer(meta).encoder._head
    if meta.file_id:  # the row path's "<file>:<line>" ids: a clean file's data lines are 2, 3, …
        lines = pa.array(np.arange(2, len(stamp) + 2, dtype=np.int64)).cast(pa.string())
        ids = pc.binary_join_element_wise(f'"{meta.file_id}:', lines, '"', "")
    else:
        ids = "null"
    parts = [head + '"ts_event":', ts, ',"ts_recv":', ts, ',"seq":', seq, ',"price":"', price, '","size":"', size,
             '","trade_id":', ids, ',"conditions":[]}', ""]
    return pc.binary_join_element_wise(*parts).cast(pa.binary()).to_pylist()
