"""`tickflow plot` end to end on the real stack: bars and indicators in PostgreSQL, written as the storage
writer upserts them, quality scores on md.quality, and the chart drawn from them by the command line."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg2.extras import execute_values

from tests.integration.job_cli import cli
from tests.integration.kafka_tools import publish, reset_topics
from tickflow import charts, migrations

SYMBOL = "PLOTT"  # a symbol no other test writes
START = datetime(2001, 1, 2, 13, 0, tzinfo=UTC)  # away from the ES sample's dates, which other tests audit
MINUTES = 90


def bar_rows() -> list[tuple]:
    """1m bars of a zigzag, as the storage writer upserts them into `bars` (exact numerics as text)."""
    rows = []
    for i in range(MINUTES):
        t = START + timedelta(minutes=i)
        open_ = 1640 + (i % 7) * 0.25
        close = open_ + (0.5 if i % 3 else -0.75)
        rows.append((SYMBOL, "1m", t, t + timedelta(minutes=1), f"{open_}", f"{max(open_, close) + 0.25}",
                     f"{min(open_, close) - 0.25}", f"{close}", f"{100 + i}", f"{(open_ + close) / 2}", 10 + i, 0,
                     ["replay"], "test"))
    return rows


def indicator_rows() -> list[tuple]:
    """Indicator records of the bars from the 20th on (as the job emits null before its warm-up)."""
    rows = []
    for i in range(19, MINUTES):
        t = START + timedelta(minutes=i)
        mid = 1640.8 + 0.01 * i
        rows.append((SYMBOL, "1m", t, t + timedelta(minutes=1), 0, 1, mid, mid + 1.5, mid, mid - 1.5, 1640.9, "test"))
    return rows


@pytest.fixture(scope="module")
def stored(running_stack):
    s = running_stack
    conn = migrations.connect(s.postgres_dsn)
    try:
        migrations.migrate(conn, log=lambda _: None)
        with conn.cursor() as cur:
            execute_values(cur, """
                INSERT INTO bars (symbol, timeframe, bucket_start, bucket_end, open, high, low, close, volume, vwap,
                                  trade_count, revision, sources, pipeline_version) VALUES %s
                ON CONFLICT (symbol, timeframe, bucket_start) DO UPDATE SET close = EXCLUDED.close""", bar_rows())
            execute_values(cur, """
                INSERT INTO indicators (symbol, timeframe, bucket_start, bucket_end, bar_revision, indicator_set,
                                        sma_20, bb_upper, bb_mid, bb_lower, vwap_day, pipeline_version) VALUES %s
                ON CONFLICT (symbol, timeframe, bucket_start) DO UPDATE SET sma_20 = EXCLUDED.sma_20""",
                           indicator_rows())
    finally:
        conn.close()
    # one score per minute, a revision of the tenth window: the chart reads the committed topic
    quality = []
    for i in range(MINUTES):
        ws = int((START + timedelta(minutes=i)).timestamp()) * 10**9
        quality.append({"type": "quality", "source": "replay", "symbol": SYMBOL, "window_start": ws,
                        "window_end": ws + 60 * 10**9, "revision": 0, "score": 100.0 - (i % 5)})
    quality.append({**quality[10], "revision": 1, "score": 42.0})
    publish(s.kafka_bootstrap, [("md.quality", f"replay|{SYMBOL}|{q['window_start']}".encode(),
                                 json.dumps(q).encode()) for q in quality])
    yield s
    reset_topics(s.kafka_bootstrap, ["md.quality"])  # later modules expect only their own records
    conn = migrations.connect(s.postgres_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM indicators WHERE symbol = %s", (SYMBOL,))
            cur.execute("DELETE FROM bars WHERE symbol = %s", (SYMBOL,))
    finally:
        conn.close()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_draws_the_stored_bars_with_indicators_and_quality(stored, tmp_path):
    out = tmp_path / "chart.png"
    r = cli("plot", "--symbol", SYMBOL, "--timeframe", "1m", "--from", "2001-01-02T13:00Z",
            "--to", "2001-01-02T14:00Z", "--indicators", "sma_20,bb_20,vwap", "--out", str(out), timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    assert r.stderr.strip() == ""  # no note: the quality scores were found on md.quality
    assert png_size(out) == charts.SIZE_PX


def test_plot_writes_under_the_stack_home_by_default(stored):
    r = cli("plot", "--symbol", SYMBOL, "--bars", "30", timeout=180)
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path == stored.home / "charts" / f"{SYMBOL}-1m.png"
    assert png_size(path) == charts.SIZE_PX


def test_plot_of_a_series_without_bars_fails_in_one_line(stored, tmp_path):
    for args in (["--symbol", "NOSUCH"], ["--symbol", SYMBOL, "--timeframe", "1h"],
                 ["--symbol", SYMBOL, "--from", "2014-01-01"]):
        r = cli("plot", *args, "--out", str(tmp_path / "x.png"), timeout=180)
        assert r.returncode == 1, args
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and lines[0].startswith("tickflow: plot: no "), r.stderr
    assert not (tmp_path / "x.png").exists()
