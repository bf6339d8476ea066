"""The storage writer and the stores: rows/s into PostgreSQL for trades and for bars, latency of the
documented queries, and Parquet bytes per trade against the raw JSON.

    .venv/bin/python bench/storage_throughput.py [--trades 1000000] [--trade-symbols 200] [--reject-share 0.03]
                                                 [--symbols 40] [--queries 300]

On the bench stack (Kafka + PostgreSQL, ports +20000):
1. pre-loads md.raw.trades with the benchmark workload (tickflow_testkit.workload: ``--trades`` real ES
   trades as ``--trade-symbols`` Zipf-skewed symbols from three sources, ``--reject-share`` rejects of
   every kind) and runs `storage_writer --bounded --no-lake`; a sampler counts the trades table every
   0.25 s, and the rate is taken between 10% and 90% of the rows (start-up and the last flush excluded);
   the rows must be the valid trades and the LATE ones (too late for a bar, archived all the same);
2. publishes the ES sample's 2,264 1m bars once per symbol (ES00…) to md.bars and runs the writer again
   with the same consumer group (only the bars are new), sampled the same way;
3. runs the documented queries (sql/queries) against the loaded tables: the latest 1m bar of every symbol,
   and one trading day of 1m bars for one symbol, each --queries times over one connection, p50/p95;
4. runs the writer with `--no-db` and a fresh group into a local lake and divides the bytes of
   dataset=trades by the trades, beside the mean size of the raw JSON values on md.raw.trades.
Appends to bench/results/storage_throughput.jsonl.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

from bench_stack import load_workload, machine, record, run_bounded, spec_summary, workload_spec

from jobs import catalog

GROUP = "bench-storage"


class RowSampler(threading.Thread):
    """(monotonic time, row count) of one table, every ``interval`` seconds, until stopped."""

    def __init__(self, dsn: str, table: str, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.dsn, self.table, self.interval = dsn, table, interval
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not self.stop.is_set():
                cur.execute(f"SELECT count(*) FROM {self.table}")
                self.samples.append((time.monotonic(), cur.fetchone()[0]))
                self.stop.wait(self.interval)
        conn.close()

    def rate(self, start_rows: int, total_new: int) -> float:
        """Rows/s between the samples at 10% and 90% of the new rows."""
        lo, hi = start_rows + total_new * 0.1, start_rows + total_new * 0.9
        t_lo = next(t for t, n in self.samples if n >= lo)
        t_hi = next(t for t, n in self.samples if n >= hi)
        first = next(n for t, n in self.samples if t >= t_lo)
        last = next(n for t, n in self.samples if t >= t_hi)
        return (last - first) / max(t_hi - t_lo, 1e-9)


def timed_run(dsn: str, table: str, expected_new: int, *job_args: str) -> tuple[float, float]:
    """(sustained rows/s, wall s) of one bounded storage-writer run."""
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        before = cur.fetchone()[0]
    sampler = RowSampler(dsn, table)
    sampler.start()
    wall = run_bounded(catalog.STORAGE_WRITER.module, *job_args)
    sampler.stop.set()
    sampler.join()
    if wall is None:
        raise SystemExit(1)
    new = sampler.samples[-1][1] - before
    if new != expected_new:
        raise SystemExit(f"{table}: {new} new rows, expected {expected_new}")
    return sampler.rate(before, new), wall


def latencies(dsn: str, name: str, params: dict, n: int) -> dict:
    import psycopg2

    from tickflow.queries import query_text

    sql = query_text(name)
    conn = psycopg2.connect(dsn)
    out = []
    with conn.cursor() as cur:
        for i in range(n + 10):
            t0 = time.perf_counter()
            cur.execute(sql, params)
            rows = cur.fetchall()
            if i >= 10:  # the first runs warm the cache and plan
                out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    q = statistics.quantiles(out, n=100)
    return {"rows": len(rows), "p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=1_000_000)
    p.add_argument("--trade-symbols", type=int, default=200)
    p.add_argument("--reject-share", type=float, default=0.03)
    p.add_argument("--symbols", type=int, default=40, help="symbols of the 1m bars")
    p.add_argument("--queries", type=int, default=300)
    args = p.parse_args()

    import json
    import shutil
    import zlib

    from indicators_throughput import es_minute_bars

    from connectors.es_sample import es_sample_csv
    from tests.integration.kafka_tools import publish
    from tickflow import migrations, stack
    from tickflow.runtime import config

    s = config.load()
    stack.down(s, log=lambda _: None)
    shutil.rmtree(s.home, ignore_errors=True)
    stack.up(s, ["kafka", "postgres"], log=lambda _: None)
    try:
        migrations.migrate(migrations.connect(s.postgres_dsn), log=lambda _: None)
        csv = es_sample_csv(s.cache_dir)
        spec = workload_spec(args.trades, args.trade_symbols, args.reject_share)
        tally, _ = load_workload(s, spec)
        raw_bytes = tally.value_bytes / tally.messages
        archived = tally.valid + tally.reasons.get("LATE", 0)
        trade_rate, trade_wall = timed_run(s.postgres_dsn, "trades", archived, "--no-lake", "--group-id", GROUP)

        minute_bars = es_minute_bars(csv)
        bars = []
        for i in range(args.symbols):
            series = f"ES{i:02d}|1m"
            bars += [("md.bars", f"{series}|{b['bucket_start']}".encode(),
                      json.dumps({**b, "symbol": f"ES{i:02d}"}).encode(), zlib.crc32(series.encode()) % 4)
                     for b in minute_bars]
        publish(s.kafka_bootstrap, bars)
        print(f"pre-loaded {len(bars):,} bars")
        bar_rate, bar_wall = timed_run(s.postgres_dsn, "bars", len(bars), "--no-lake", "--group-id", GROUP)

        with migrations.connect(s.postgres_dsn) as conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
        day = {"symbol": "ES07", "timeframe": "1m", "from": "2013-09-02T22:00:00Z", "to": "2013-09-03T22:00:00Z"}
        latest = latencies(s.postgres_dsn, "latest_bars", {"timeframe": "1m"}, args.queries)
        one_day = latencies(s.postgres_dsn, "bars", day, args.queries)

        lake = s.home / "lake"
        if run_bounded(catalog.STORAGE_WRITER.module, "--no-db", "--lake", str(lake),
                       "--group-id", f"{GROUP}-lake") is None:
            return 1
        parquet = sum(f.stat().st_size for f in Path(lake, "dataset=trades").rglob("*")
                      if f.is_file() and f.name != "_SUCCESS")
        files = sum(1 for f in Path(lake, "dataset=trades").rglob("*") if f.is_file() and f.name != "_SUCCESS")
        per_trade = parquet / archived
        record("storage_throughput", {
            "bench": "storage_throughput", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "workload": spec_summary(spec), "symbols": len(tally.valid_per_symbol),
            "trades": archived, "rejects": tally.messages - tally.valid, "bars": len(bars),
            "trades_rows_per_s": round(trade_rate), "trades_wall_s": round(trade_wall, 1),
            "bars_rows_per_s": round(bar_rate), "bars_wall_s": round(bar_wall, 1),
            "latest_1m_bar_per_symbol": {**latest, "symbols": args.symbols},
            "one_day_of_1m_bars_one_symbol": one_day,
            "raw_json_bytes_per_trade": round(raw_bytes, 1), "parquet_bytes_per_trade": round(per_trade, 2),
            "parquet_smaller_than_json_pct": round(100 * (1 - per_trade / raw_bytes), 1),
            "parquet_trade_files": files,
        })
        return 0
    finally:
        stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
