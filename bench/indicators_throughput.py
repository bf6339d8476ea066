"""Throughput of the indicators job, md.bars → md.indicators, in bars per second.

    .venv/bin/python bench/indicators_throughput.py [--symbols 40]

Builds the 2,264 1m bars of the real ES sample (pandas, exact decimals), publishes them once per symbol
(ES00, ES01, …: distinct series spread over the partitions as SeriesPartitioner spreads them) to md.bars
on the bench stack, runs `indicators --bounded` in a local MiniCluster and reports

- sustained bars/s: records ÷ (last − first output record's Kafka timestamp), start-up excluded,
- wall bars/s: records ÷ wall time of `tickflow run` (JVM, Python worker and job start-up included),

beside the same indicators computed in one Python process without Flink (the pure-code ceiling).
Appends to bench/results/indicators_throughput.jsonl.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from decimal import Decimal

from bench_stack import fresh_kafka, machine, record, run_bounded

from connectors.es_sample import read_es_trades
from jobs import catalog


def es_minute_bars(csv_path) -> list[dict]:
    import pandas as pd

    trades = read_es_trades(csv_path)
    df = pd.DataFrame({"minute": [t.ts_ns // 60_000_000_000 * 60_000_000_000 for t in trades],
                       "price": [Decimal(t.price) for t in trades], "size": [Decimal(t.size) for t in trades]})
    bars = []
    for minute, g in df.groupby("minute", sort=True):
        volume = g["size"].sum()
        vwap = (g["price"] * g["size"]).sum() / volume
        bars.append({"timeframe": "1m", "bucket_start": int(minute), "bucket_end": int(minute) + 60_000_000_000,
                     "open": str(g["price"].iloc[0]), "high": str(g["price"].max()), "low": str(g["price"].min()),
                     "close": str(g["price"].iloc[-1]), "volume": str(volume),
                     "vwap": str(vwap.quantize(Decimal("1e-9"))), "trade_count": len(g), "revision": 0,
                     "sources": ["replay"], "pipeline_version": "bench"})
    return bars


def pure_python_rate(bars: list[dict]) -> float:
    from jobs.indicator_series import IndicatorSeries, bar_from_record

    series = IndicatorSeries(1)
    t0 = time.perf_counter()
    for b in bars:
        series.apply(bar_from_record({**b, "symbol": "ES"}, lambda t: t - t % 86_400_000_000_000))
    return len(bars) / (time.perf_counter() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=40)
    args = p.parse_args()

    from connectors.es_sample import es_sample_csv
    from tests.integration.kafka_tools import publish
    from tickflow import stack
    from tickflow.runtime.kafka_reading import read_to_end

    s = fresh_kafka()
    try:
        bars = es_minute_bars(es_sample_csv(s.cache_dir))
        messages = []
        for i in range(args.symbols):
            symbol = f"ES{i:02d}"
            series = f"{symbol}|1m"
            part = zlib.crc32(series.encode()) % 4
            messages += [("md.bars", f"{series}|{b['bucket_start']}".encode(),
                          json.dumps({**b, "symbol": symbol}).encode(), part) for b in bars]
        publish(s.kafka_bootstrap, messages)
        print(f"pre-loaded {len(messages):,} bars")
        wall = run_bounded(catalog.INDICATORS.module)
        if wall is None:
            return 1
        stamps = [r.timestamp for r in read_to_end(s.kafka_bootstrap, "md.indicators")]
        sustained = len(stamps) / max((max(stamps) - min(stamps)) / 1000, 1e-9)
        record("indicators_throughput", {
            "bench": "indicators_throughput", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "bars": len(messages), "records_out": len(stamps),
            "sustained_bars_per_s": round(sustained), "wall_s_including_startup": round(wall, 1),
            "wall_bars_per_s": round(len(stamps) / wall),
            "pure_python_bars_per_s": round(pure_python_rate(bars)),
        })
        return 0 if len(stamps) == len(messages) else 1
    finally:
        stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
