"""Throughput of the data-quality job, md.raw.trades → md.quality, on the real ES trades, beside the pandas
batch computation of the same window counts.

    .venv/bin/python bench/quality_throughput.py [--copies N] [--resend]

Pre-loads md.raw.trades on the bench stack (bench_stack.py) with the ES sample N times, each copy its own
feed (symbol ES<i>, source bench<i>), runs `data_quality --bounded` in a local MiniCluster and reports

- sustained ticks/s: the valid trades of the quality records after the first one ÷ the time between the
  first and the last record's Kafka timestamp (start-up excluded; windows close as the job gets through the
  event-time ordered input),
- wall ticks/s: ticks ÷ the wall time of `tickflow run` (JVM and job start-up included),

and pandas computing the per-minute counts, volume, VWAP and latency p50/p99 from the CSV (parse included),
the batch ceiling. With ``--resend`` the topic holds it all twice, the second time byte for byte (a replay
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

from bench_stack import kafka_with_es_copies, machine, record, run_bounded

from jobs import catalog


def pandas_ceiling(csv_path) -> tuple[float, int]:
    """Seconds for pandas to read the CSV and count per minute what the quality job counts; windows."""
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(csv_path)
    ts = pd.to_datetime(df["DateTime"]).dt.tz_localize("America/Chicago").dt.tz_convert("UTC")
    df["notional"] = df["Price"] * df["Volume"]
    df["latency_ms"] = 0.0  # the replay stamps ts_recv = ts_event
    g = df.groupby(ts.dt.floor("1min"), sort=True)
    windows = pd.DataFrame({"n": g["Price"].size(), "volume": g["Volume"].sum(), "notional": g["notional"].sum(),
                            "high": g["Price"].max(), "low": g["Price"].min(),
                            "p50": g["latency_ms"].quantile(0.5), "p99": g["latency_ms"].quantile(0.99)})
    windows["vwap"] = windows["notional"] / windows["volume"]
    return time.perf_counter() - t0, len(windows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--resend", action="store_true", help="publish everything a second time, byte for byte")
    args = p.parse_args()

    from tickflow.runtime.kafka_reading import read_to_end

    with kafka_with_es_copies(args.copies, resend=args.resend) as (s, csv, loaded):
        wall = run_bounded(catalog.DATA_QUALITY.module)
        if wall is None:
            return 1
        ticks = loaded // 2 if args.resend else loaded
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
            "machine": machine(), "ticks": ticks, "valid_in_quality_records": valid,
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
            pandas_s, pandas_windows = pandas_ceiling(csv)
            result.update({"sustained_ticks_per_s": round(sustained), "pandas_windows_s_per_copy": round(pandas_s, 2),
                           "pandas_windows_per_copy": pandas_windows,
                           "pandas_ticks_per_s": round(ticks / args.copies / pandas_s)})
        record(result["bench"], result)
        return 0 if valid == ticks and duplicates == loaded - ticks else 1


if __name__ == "__main__":
    sys.exit(main())
