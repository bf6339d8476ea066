"""Throughput of the indicators job, md.bars → md.indicators, in bars per second.

    .venv/bin/python bench/indicators_throughput.py [--symbols 100]

Builds the 2,264 1m bars of the real ES sample (pandas, exact decimals), publishes them once per symbol
(ES00, ES01, …: distinct series spread over the partitions as SeriesPartitioner spreads them) to md.bars
on the bench stack, runs `indicators --bounded` in a local MiniCluster (its keyed step in the JVM) and
reports

- sustained bars/s: records ÷ (last − first output record's Kafka timestamp), start-up excluded,
- wall bars/s: records ÷ wall time of `tickflow run` (JVM and job start-up included),

beside the same step without Flink: the Python reference in one Python process, and the JVM step
(``io.tickflow.indicators.IndicatorReplay``: parse, series state as bytes, records written) in one JVM,
over the same md.bars records. Appends to bench/results/indicators_throughput.jsonl.
"""
from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
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


def pure_python_rate(messages: list[tuple]) -> float:
    """The Python reference of the job's step (jobs.indicators.ReferenceStep) over the records."""
    from jobs import validation
    from jobs.indicators import IndicatorOptions, ReferenceStep

    rules = validation.load_rules()
    step = ReferenceStep(IndicatorOptions(), {sym: rules.symbol_calendar(sym) for sym in rules.symbol_venues})
    t0 = time.perf_counter()
    for offset, (_, key, value, partition) in enumerate(messages):
        step.apply(key, value, partition, offset)
    return len(messages) / (time.perf_counter() - t0)


def jvm_alone_rates(messages: list[tuple], jar, repeat: int = 3) -> dict:
    """The JVM step (IndicatorReplay --repeat 2) over the records, the best of ``repeat`` processes: bars per
    second of wall time, and per second of the thread's CPU time (which a busy machine does not dilute)."""
    from jobs import validation
    from jobs.indicators import calendar_specs

    rules = validation.load_rules()
    calendars, symbols = calendar_specs({sym: rules.symbol_calendar(sym) for sym in rules.symbol_venues})
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"{tmp}/calendars.txt"
        with open(spec, "w") as f:
            f.write(calendars)
        lines = "".join(f"{base64.b64encode(k).decode()}\t{base64.b64encode(v).decode()}\t{p}\t{i}\n"
                        for i, (_, k, v, p) in enumerate(messages))
        rates: list[dict] = []
        for _ in range(repeat):
            run = subprocess.run(["java", "-cp", str(jar), "io.tickflow.indicators.IndicatorReplay", "--repeat", "2",
                                  "--calendars", spec, "--symbol-calendars", symbols],
                                 input=lines, capture_output=True, text=True)
            if run.returncode != 0:
                print(run.stderr[-2000:], file=sys.stderr)
                return {}
            rates.append(json.loads(run.stdout))
    return {"jvm_alone_bars_per_s": max(r["per_s"] for r in rates),
            "jvm_alone_bars_per_cpu_s": max(r["per_cpu_s"] for r in rates)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=100)
    args = p.parse_args()

    from connectors.es_sample import es_sample_csv
    from tests.integration.kafka_tools import publish
    from tickflow import stack
    from tickflow.runtime.flink_runtime import udfs_jar
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
            "wall_bars_per_s": round(len(stamps) / wall), "engine": "jvm",
            "pure_python_bars_per_s": round(pure_python_rate(messages[:len(bars) * 5])),
            **jvm_alone_rates(messages, udfs_jar(s)),
        })
        return 0 if len(stamps) == len(messages) else 1
    finally:
        stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
