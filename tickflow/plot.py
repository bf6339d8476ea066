"""``tickflow plot``: the stored bars of one symbol and timeframe as a PNG chart (drawn by tickflow/charts.py).

Bars and indicators come from PostgreSQL, as the storage writer stores them (tables ``bars`` and
``indicators``). The quality scores come from the committed records of ``md.quality`` (read_committed,
highest revision per window), since no job writes the ``quality`` table yet.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg2
from kafka.errors import KafkaError

from tickflow import charts, migrations, queries
from tickflow.processes import StackError, port_open
from tickflow.runtime.config import Settings
from tickflow.runtime.kafka_reading import read_to_end

TIMEFRAMES = ("1m", "5m", "15m", "1h", "1d")
DEFAULT_BARS = 240  # the newest bars of the range drawn by default: four hours of 1m candles
QUALITY_TOPIC = "md.quality"

# the newest %(limit)s bars of a series with bucket_start in [from, to), oldest first (primary key range)
BARS_SQL = """
SELECT bucket_start, bucket_end, open, high, low, close, volume, vwap, trade_count, revision
FROM (
    SELECT * FROM bars
    WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s
      AND bucket_start >= %(from)s AND bucket_start < %(to)s
    ORDER BY bucket_start DESC
    LIMIT %(limit)s
) newest
ORDER BY bucket_start
"""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PlotRequest:
    symbol: str
    timeframe: str = "1m"
    start: datetime | None = None  # inclusive; None: from the series' first bar
    end: datetime | None = None  # exclusive; None: through its last bar
    overlays: tuple[str, ...] = charts.DEFAULT_OVERLAYS
    out: Path | None = None  # None: <home>/charts/<symbol>-<timeframe>.png
    bars: int = DEFAULT_BARS  # at most this many, the newest of the range; 0: all
    dsn: str | None = None  # None: the settings' PostgreSQL


@dataclass
class PlotResult:
    path: Path
    bars: int
    first: datetime
    last: datetime
    notes: list[str] = field(default_factory=list)  # what the chart lacks and why (no quality scores, …)


def parse_time(text: str) -> datetime:
    """An ISO date or time (``2013-09-02``, ``2013-09-02T14:30``, ``…Z``, ``…+02:00``); without a zone: UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or time (e.g. 2013-09-02 or 2013-09-02T14:30Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_overlays(text: str) -> tuple[str, ...]:
    """``sma_20,bb_20,vwap`` → the overlay names, each one charts.OVERLAYS knows; empty text → none."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in charts.OVERLAYS]
    if unknown:
        raise ValueError(f"unknown indicator(s) {', '.join(unknown)} (choose from {', '.join(charts.OVERLAYS)})")
    return names


def default_path(s: Settings, symbol: str, timeframe: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in symbol)
    return s.home / "charts" / f"{safe}-{timeframe}.png"


def _numbers(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for c in columns:
        if c in frame.columns:
            frame[c] = frame[c].astype(float)  # Decimal (numeric columns) and None → float and NaN
    return frame


def load_bars(conn, request: PlotRequest) -> pd.DataFrame:
    """The bars to draw, oldest first (numerics as floats); empty when the series has none in the range."""
    params = {"symbol": request.symbol, "timeframe": request.timeframe, "from": request.start or EARLIEST,
              "to": request.end or LATEST, "limit": request.bars if request.bars > 0 else None}
    with conn.cursor() as cur:
        cur.execute(BARS_SQL, params)
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    return _numbers(frame, ("open", "high", "low", "close", "volume", "vwap"))


def load_indicators(conn, symbol: str, timeframe: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The indicator records of the series with bucket_start in [start, end) (sql/queries/indicators.sql)."""
    columns, rows = queries.run(conn, "indicators", {"symbol": symbol, "timeframe": timeframe, "from": start,
                                                     "to": end})
    frame = pd.DataFrame(rows, columns=columns)
    return _numbers(frame, [c for cols in charts.OVERLAYS.values() for c in cols])


def quality_scores(records, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
    """From md.quality values (dicts): the final revision of each window of ``symbol`` starting in
    [start, end), as rows of source, window_start (UTC), score."""
    lo, hi = int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9
    final: dict[tuple, dict] = {}
    for r in records:
        if r.get("symbol") != symbol or not lo <= r.get("window_start", -1) < hi:
            continue
        key = (r["source"], r["window_start"])
        if key not in final or r.get("revision", 0) >= final[key].get("revision", 0):
            final[key] = r
    rows = [(src, ws, final[(src, ws)]["score"]) for src, ws in sorted(final)]
    frame = pd.DataFrame(rows, columns=["source", "window_start", "score"])
    frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    return frame


def load_quality(bootstrap: str, symbol: str, start: datetime, end: datetime) -> tuple[pd.DataFrame, str | None]:
    """The quality scores of ``symbol`` from md.quality's committed records, and a note when there are
    none to draw (Kafka unreachable, nothing scored in the range)."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port.isdigit() or not port_open(host or "127.0.0.1", int(port), timeout=2.0):
        return quality_scores([], symbol, start, end), f"no quality panel: cannot reach Kafka at {bootstrap}"
    try:
        records = (json.loads(r.value) for r in read_to_end(bootstrap, QUALITY_TOPIC, timeout_s=120))
        frame = quality_scores(records, symbol, start, end)
    except (KafkaError, TimeoutError, ValueError) as exc:
        return quality_scores([], symbol, start, end), f"no quality panel: reading {QUALITY_TOPIC}: {exc}"
    if frame.empty:
        return frame, f"no quality scores of {symbol} on {QUALITY_TOPIC} for these bars"
    return frame, None


def plot(request: PlotRequest, s: Settings) -> PlotResult:
    """Load the series from the stores, draw it, write the PNG; StackError (or MigrationError) when there is
    nothing to draw or PostgreSQL cannot be read."""
    if request.start and request.end and request.start >= request.end:
        raise ValueError(f"--from {request.start.isoformat()} is not before --to {request.end.isoformat()}")
    conn = migrations.connect(request.dsn or s.postgres_dsn)
    try:
        bars = load_bars(conn, request)
        if bars.empty:
            span = ""
            if request.start or request.end:
                span = (f" from {request.start.isoformat() if request.start else 'the first'}"
                        f" to {request.end.isoformat() if request.end else 'the last'}")
            raise StackError(f"no {request.timeframe} bars of {request.symbol!r} in PostgreSQL{span} "
                             "(`tickflow query latest` lists the stored symbols)")
        first, last = bars["bucket_start"].iloc[0], bars["bucket_start"].iloc[-1]
        through = bars["bucket_end"].iloc[-1]
        indicators = load_indicators(conn, request.symbol, request.timeframe, first, through) \
            if request.overlays else None
    except psycopg2.Error as exc:
        raise StackError(f"reading PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
    finally:
        conn.close()
    quality, note = load_quality(s.kafka_bootstrap, request.symbol, first, through)
    notes = [note] if note else []
    title = (f"{request.symbol} {request.timeframe} bars, {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
             f"({len(bars)} bars)")
    path = charts.render(bars, request.out or default_path(s, request.symbol, request.timeframe),
                         indicators=indicators, quality=quality, overlays=request.overlays, title=title)
    return PlotResult(path, len(bars), first, last, notes)
