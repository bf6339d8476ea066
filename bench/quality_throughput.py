"""Throughput of the data-quality job, md.raw.trades → md.quality, over the benchmark workload, beside the
pandas batch computation of the same window counts.

    .venv/bin/python bench/quality_throughput.py [--trades 1000000] [--symbols 200] [--reject-share 0.03]
                                                 [--resend]

Pre-loads md.raw.trades on the bench stack (bench_stack.py) with the workload (tickflow_testkit.workload:
``--trades`` real ES trades as ``--symbols`` Zipf-skewed symbols from three sources, ``--reject-share``
rejects of every kind), runs `data_quality --bounded` in a local MiniCluster and reports

- sustained ticks/s: the valid trades of the quality records after the first one ÷ the time between the
  first and the last record's Kafka timestamp (start-up excluded; windows close as the job gets through the
  event-time ordered input),
- wall ticks/s: ticks ÷ the wall time of `tickflow run` (JVM and job start-up included),

and pandas computing the per-feed, per-minute counts, volume, VWAP and latency p50/p99 from the valid trades'
JSON lines (parse included), the batch ceiling. With ``--resend`` (no rejects) the topic holds the workload
twice, the second time byte for byte (a replay
repeated into the topic: every record of the second half a DUPLICATE of a window scored long before), and
the result is recorded as ``quality_flood``: the same rates over every record read, and whether each
duplicate was counted once. The processor's own figure (bench/processor_throughput.py) is the rate the quality job
must keep up with, since both read the same topic.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from bench_stack import fresh_kafka, load_workload, machine, record, run_bounded, spec_summary, workload_spec

from jobs import catalog


def pandas_ceiling(spec, csv_path, workdir) -> tuple[float, int, int]:
    """Seconds for pandas to read the workload's valid trades as JSON lines and count per feed and minute
    what the quality job counts; (seconds, windows, trades). The file is written first, untimed."""
    import pandas as pd

    from tickflow_testkit.workload import stream, write_jsonl

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "quality-valid.jsonl"
    rows = write_jsonl(stream(spec, csv_path), path, valid_only=True)
    t0 = time.perf_counter()
    df = pd.read_json(path, lines=True, dtype={"price": str, "size": str})
    df["price"], df["size"] = df["price"].astype(float), df["size"].astype(float)
    df["notional"] = df["price"] * df["size"]
    df["latency_ms"] = (df["ts_recv"] - df["ts_event"]) / 1e6
    df["minute"] = df["ts_event"] // 60_000_000_000
    g = df.groupby(["source", "symbol", "minute"], sort=True)
    windows = pd.DataFrame({"n": g["price"].size(), "volume": g["size"].sum(), "notional": g["notional"].sum(),
                            "high": g["price"].max(), "low": g["price"].min(),
                            "p50": g["latency_ms"].quantile(0.5), "p99": g["latency_ms"].quantile(0.99)})
    windows["vwap"] = windows["notional"] / windows["volume"]
    seconds = time.perf_counter() - t0
    path.unlink()
    return seconds, len(windows), rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=1_000_000)
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--reject-share", type=float, default=0.03, help="(without --resend)")
    p.add_argument("--resend", action="store_true",
                   help="no rejects; publish everything a second time, byte for byte")
    args = p.parse_args()

    from connectors.es_sample import es_sample_csv
    from tickflow import stack
    from tickflow.runtime.kafka_reading import read_to_end

    spec = workload_spec(args.trades, args.symbols, 0.0 if args.resend else args.reject_share)
    s = fresh_kafka()
    try:
        csv = es_sample_csv(s.cache_dir)
        tally, first = load_workload(s, spec)
        loaded = first.published
        if args.resend:
            loaded += load_workload(s, spec)[1].published
        wall = run_bounded(catalog.DATA_QUALITY.module)
        if wall is None:
            return 1
        ticks = tally.valid
        records = list(read_to_end(s.kafka_bootstrap, "md.quality"))
        quality = sorted(((r.timestamp, json.loads(r.value)) for r in records), key=lambda x: x[0])
        final = {(q["source"], q["symbol"], q["window_start"]): q for _, q in quality}  # highest revision last
        valid = sum(q["valid"] for q in final.values())
        duplicates = sum(q["rejected_by_reason"].get("DUPLICATE", 0) for q in final.values())
        span_s = (quality[-1][0] - quality[0][0]) / 1000
        sustained = sum(q["valid"] for _, q in quality[1:]) / max(span_s, 1e-9)
        alerts = sum(1 for _ in read_to_end(s.kafka_bootstrap, "md.alerts"))
        result = {
            "bench": "quality_flood" if args.resend else "quality_throughput",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "workload": spec_summary(spec), "symbols": len(tally.valid_per_symbol),
            "rejects": tally.messages - tally.valid, "ticks": ticks, "valid_in_quality_records": valid,
            "quality_records": len(quality), "alerts": alerts,
            "first_to_last_record_s": round(span_s, 1), "wall_s": round(wall, 1),
            "ticks_per_s_wall": round(loaded / wall),  # every record read, duplicates included
        }
        if args.resend:  # the second half counts no valid trade: only the rate over every record applies
            result.update({"records_read": loaded, "duplicates_sent": loaded - ticks,
                           "duplicates_in_quality_records": duplicates,
                           "revisions": sum(1 for _, q in quality if q["revision"]),
                           "most_duplicates_in_one_window": max(q["rejected_by_reason"].get("DUPLICATE", 0)
                                                                for q in final.values())})
        else:
            pandas_s, pandas_windows, pandas_rows = pandas_ceiling(spec, csv, s.home / "bench-work")
            result.update({"sustained_ticks_per_s": round(sustained), "pandas_windows_s": round(pandas_s, 2),
                           "pandas_windows": pandas_windows, "pandas_ticks_per_s": round(pandas_rows / pandas_s),
                           "rejects_counted": sum(sum(q["rejected_by_reason"].values()) for q in final.values())})
        record(result["bench"], result)
        expected_duplicates = loaded - tally.messages if args.resend else tally.reasons.get("DUPLICATE", 0)
        return 0 if valid == ticks and duplicates == expected_duplicates else 1
    finally:
        stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
