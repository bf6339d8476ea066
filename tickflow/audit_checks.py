"""The pure part of ``tickflow audit``: turn one date of a dataset into the frames its suites validate.

Nothing here reads the lake or the database, nor runs Great Expectations: each function takes and returns
pandas frames, so the rules are unit-tested on constructed rows (tests/unit/test_audit_checks.py).

- ``latest_revisions``: the lake appends a revised bar as a new row (schemas/lake.yaml); readers keep the
  highest revision per key. Two rows of one key at the same highest revision stay, so the suite's
  uniqueness check sees them.
- ``derive_bucket_columns``: where each bucket should start and end (a multiple of the timeframe; a 1d
  bucket is its venue's trading session), and the gap to the previous bucket of the series.
- ``calendar_frame``: one row per trading minute of the date per symbol, and whether it has data.
- ``reconcile``: the lake's keys outer-joined with the table's.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd

MINUTE_NS = 60_000_000_000
DAY_NS = 86_400 * 1_000_000_000
TIMEFRAME_NS = {"1m": MINUTE_NS, "5m": 5 * MINUTE_NS, "15m": 15 * MINUTE_NS, "1h": 60 * MINUTE_NS}
DATASETS = ("bars", "trades", "indicators")
KEYS: Mapping[str, tuple[str, ...]] = {
    "bars": ("symbol", "timeframe", "bucket_start"),
    "indicators": ("symbol", "timeframe", "bucket_start"),
    "trades": ("source", "symbol", "seq"),
}
REVISION: Mapping[str, str | None] = {"bars": "revision", "indicators": "bar_revision", "trades": None}
# what "the same values" means for a key in both the lake and the table
COMPARED: Mapping[str, tuple[str, ...]] = {
    "bars": ("revision", "close"),
    "indicators": ("bar_revision", "rsi_14"),
    "trades": ("price", "size"),
}
DECIMAL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "bars": ("open", "high", "low", "close", "volume", "vwap"),
    "trades": ("price", "size"),
    "indicators": (),
}

SessionOf = Callable[[str, int], tuple[int, int]]   # (symbol, ts_ns) → the [open, close) session holding ts
MinutesOf = Callable[[str, int, int], list[int]]    # (symbol, start_ns, end_ns) → trading minute starts


def date_bounds(date: dt.date) -> tuple[int, int]:
    """The UTC day ``[start, end)`` in ns: a lake partition ``date=…`` holds exactly these times."""
    start = int(pd.Timestamp(date, tz="UTC").value)
    return start, start + DAY_NS


def latest_revisions(df: pd.DataFrame, keys: Sequence[str], revision: str | None) -> pd.DataFrame:
    """Rows at the highest ``revision`` of their key (all rows when the dataset has no revisions)."""
    if revision is None or df.empty:
        return df.reset_index(drop=True)
    top = df.groupby(list(keys), dropna=False)[revision].transform("max")
    return df[df[revision] == top].reset_index(drop=True)


def as_floats(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Exact decimals as float64 for the range and pair checks. Rounding to the nearest double never
    reverses an order (a <= b stays a <= b), so the OHLC invariants keep their meaning."""
    out = df.copy()
    for c in columns:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c].map(lambda v: None if v is None else float(v)), errors="coerce")
    return out


def expected_bucket(timeframe: str, symbol: str, start: int, session_of: SessionOf) -> tuple[int, int]:
    """Where a bucket holding ``start`` begins and ends; (-1, -1) for an unknown timeframe."""
    if timeframe == "1d":
        return session_of(symbol, start)
    step = TIMEFRAME_NS.get(timeframe)
    if step is None:
        return -1, -1
    first = start - start % step
    return first, first + step


def derive_bucket_columns(df: pd.DataFrame, date: dt.date, session_of: SessionOf) -> pd.DataFrame:
    """Adds ``expected_bucket_start``, ``expected_bucket_end`` (int64 ns), ``gap_to_previous_ns`` (the
    bucket's start minus the previous bucket's end in its (symbol, timeframe) series; NaN for the first)
    and ``in_partition`` (bucket_start on ``date``, UTC)."""
    out = df.copy()
    bounds = [expected_bucket(tf, sym, int(start), session_of)
              for tf, sym, start in zip(out["timeframe"], out["symbol"], out["bucket_start"])]
    out["expected_bucket_start"] = pd.Series([b[0] for b in bounds], index=out.index, dtype="int64")
    out["expected_bucket_end"] = pd.Series([b[1] for b in bounds], index=out.index, dtype="int64")
    ordered = out.sort_values(["symbol", "timeframe", "bucket_start", "bucket_end"], kind="stable")
    previous_end = ordered.groupby(["symbol", "timeframe"])["bucket_end"].shift(1)
    out["gap_to_previous_ns"] = (ordered["bucket_start"] - previous_end).astype("float64").reindex(out.index)
    lo, hi = date_bounds(date)
    out["in_partition"] = (out["bucket_start"] >= lo) & (out["bucket_start"] < hi)
    return out


def derive_trade_columns(df: pd.DataFrame, date: dt.date) -> pd.DataFrame:
    """Adds ``in_partition``: ts_event on ``date`` (UTC) and, where the lake's ``hour`` partition column
    is present, in that hour."""
    out = df.copy()
    lo, hi = date_bounds(date)
    inside = (out["ts_event"] >= lo) & (out["ts_event"] < hi)
    if "hour" in out.columns:
        hour = ((out["ts_event"] - lo) // (3600 * 1_000_000_000)).astype("int64")
        inside &= hour == pd.to_numeric(out["hour"], errors="coerce")
    out["in_partition"] = inside
    return out


def calendar_frame(minutes_with_data: Mapping[str, set[int]], date: dt.date,
                   minutes_of: MinutesOf) -> pd.DataFrame:
    """One row per (symbol, trading minute of ``date``): ``minute`` (ns), ``minute_utc`` (text, for the
    report) and ``present``."""
    lo, hi = date_bounds(date)
    rows: list[tuple[str, int, bool]] = []
    for symbol in sorted(minutes_with_data):
        have = minutes_with_data[symbol]
        rows.extend((symbol, m, m in have) for m in minutes_of(symbol, lo, hi))
    out = pd.DataFrame(rows, columns=["symbol", "minute", "present"])
    out["minute"] = out["minute"].astype("int64")
    out["present"] = out["present"].astype(bool)
    out.insert(2, "minute_utc", pd.to_datetime(out["minute"], utc=True).dt.strftime("%Y-%m-%d %H:%M"))
    return out


def minutes_with_data(df: pd.DataFrame, time_column: str) -> dict[str, set[int]]:
    """Per symbol, the minute starts that hold a row (1m bars: their bucket_start; trades: ts_event)."""
    minute = df[time_column] - df[time_column] % MINUTE_NS
    return {sym: set(int(m) for m in group) for sym, group in minute.groupby(df["symbol"])}


def completeness(calendar: pd.DataFrame) -> dict[str, float]:
    """The share of each symbol's trading minutes that are present (for the report)."""
    return {sym: float(g.mean()) for sym, g in calendar.groupby("symbol")["present"]}


def reconcile(lake: pd.DataFrame, table: pd.DataFrame, keys: Sequence[str],
              compared: Sequence[str]) -> pd.DataFrame:
    """The keys of both sides with ``in_lake``, ``in_table``, ``same_values`` (True where a key is on one
    side only: that is what in_lake / in_table report) and the compared columns of each side."""
    keys = list(keys)
    left = lake[keys + list(compared)].assign(in_lake=True)
    right = table[keys + list(compared)].assign(in_table=True)
    both = left.merge(right, on=keys, how="outer", suffixes=("_lake", "_table"))
    both["in_lake"] = both["in_lake"].astype("boolean").fillna(False).astype(bool)
    both["in_table"] = both["in_table"].astype("boolean").fillna(False).astype(bool)
    same = ~(both["in_lake"] & both["in_table"])
    agree = pd.Series(True, index=both.index)
    for c in compared:
        a, b = both[f"{c}_lake"], both[f"{c}_table"]
        agree &= (a == b) | (a.isna() & b.isna())
    both["same_values"] = (same | agree).astype(bool)
    return both.sort_values(keys, kind="stable").reset_index(drop=True)
