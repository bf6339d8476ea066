"""Throughput of the market data processor, md.raw.trades → md.bars, on the real ES trades, beside the
pandas batch ceiling for the same bars.

    .venv/bin/python bench/processor_throughput.py [--copies N]

Pre-loads md.raw.trades on the bench stack (bench_stack.py) with the ES sample N times, each copy under
its own symbol (ES0, ES1, …) and source (bench0, bench1, …: the duplicate check keys on source and seq)
so the copies spread over partitions and both slots work. Then runs
`market_data_processor --bounded` in a local MiniCluster and reports

- sustained ticks/s: the trades counted in 1m bars after the first one ÷ the time between the first and
  the last 1m bar's Kafka timestamp (start-up excluded; the input is event-time ordered, so 1m bars
  leave as the job gets through the trades),
- wall ticks/s: ticks ÷ the wall time of `tickflow run` (JVM and job start-up included),

bars out, and the same 1m bars computed by pandas from the CSV (parse included) as the batch ceiling.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from bench_stack import kafka_with_es_copies, machine, record, run_bounded

from jobs import catalog


def pandas_ceiling(csv_path) -> tuple[float, int]:
    """Seconds for pandas to read the CSV and build exact-enough 1m OHLCV (float prices), and bar count."""
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(csv_path)
    ts = pd.to_datetime(df["DateTime"]).dt.tz_localize("America/Chicago").dt.tz_convert("UTC")
    g = df.groupby(ts.dt.floor("1min"), sort=True)
    bars = pd.DataFrame({"open": g["Price"].first(), "high": g["Price"].max(), "low": g["Price"].min(),
                         "close": g["Price"].last(), "volume": g["Volume"].sum(), "n": g["Price"].size()})
    return time.perf_counter() - t0, len(bars)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=2)
    args = p.parse_args()

    from tickflow.runtime.kafka_reading import read_to_end

    with kafka_with_es_copies(args.copies) as (s, csv, ticks):
        wall = run_bounded(catalog.MARKET_DATA_PROCESSOR.module)
        if wall is None:
            return 1
        records = list(read_to_end(s.kafka_bootstrap, "md.bars"))
        bars = [json.loads(r.value) for r in records]
        counted = sum(b["trade_count"] for b in bars if b["timeframe"] == "1m")
        minutes = sorted((r.timestamp, b["trade_count"]) for r, b in zip(records, bars) if b["timeframe"] == "1m")
        span_s = (minutes[-1][0] - minutes[0][0]) / 1000
        sustained = sum(n for _, n in minutes[1:]) / max(span_s, 1e-9)
        pandas_s, pandas_bars = pandas_ceiling(csv)
        record("processor_throughput", {
            "bench": "processor_throughput", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "ticks": ticks, "ticks_in_1m_bars": counted,
            "bars_out": len(bars), "minute_bars": sum(1 for b in bars if b["timeframe"] == "1m"),
            "sustained_ticks_per_s": round(sustained), "first_to_last_1m_bar_s": round(span_s, 1),
            "wall_s": round(wall, 1), "ticks_per_s_wall": round(ticks / wall),
            "pandas_1m_bars_s_per_copy": round(pandas_s, 2), "pandas_bars_per_copy": pandas_bars,
            "pandas_ticks_per_s": round(ticks / args.copies / pandas_s),
        })
        return 0 if counted == ticks else 1


if __name__ == "__main__":
    sys.exit(main())
