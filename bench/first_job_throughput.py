"""Throughput of the first job, Kafka → Flink → Kafka, over the benchmark workload.

    .venv/bin/python bench/first_job_throughput.py [--trades 1000000] [--symbols 200]

Runs against its own stack (bench_stack.py: ports +20000, data under .tickflow/bench-stack) so it never
mixes with the demo's or the tests' topics. It pre-loads md.raw.trades with the workload
(tickflow_testkit.workload: ``--trades`` real ES trades as ``--symbols`` Zipf-skewed symbols from three
sources, no rejects, over the topic's 4 partitions), then runs `trade_passthrough --bounded` in a local
MiniCluster and reports:

- sustained rate: records ÷ (last − first output record's Kafka timestamp); start-up excluded
- wall rate: records ÷ the wall time of `tickflow run`; JVM and job start-up included

and appends the figures to bench/results/first_job_throughput.jsonl.
"""
from __future__ import annotations

import argparse
import sys
import time

from bench_stack import fresh_kafka, load_workload, machine, record, run_bounded, spec_summary, workload_spec

from jobs import catalog


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=1_000_000, help="trades of the workload")
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = p.parse_args()

    from tickflow import stack
    from tickflow.runtime.kafka_reading import end_offsets, read_to_end

    spec = workload_spec(args.trades, args.symbols)
    s = fresh_kafka()
    try:
        tally, published = load_workload(s, spec)
        loaded = published.published

        out_before = end_offsets(s.kafka_bootstrap, "md.trades.parsed")
        wall = run_bounded(catalog.TRADE_PASSTHROUGH.module)
        if wall is None:
            return 1
        first = last = None
        count = 0
        for rec in read_to_end(s.kafka_bootstrap, "md.trades.parsed", out_before):
            count += 1
            first = rec.timestamp if first is None else min(first, rec.timestamp)
            last = rec.timestamp if last is None else max(last, rec.timestamp)
        sustained = count / max((last - first) / 1000, 1e-9)
        result = {
            "bench": "first_job_throughput", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "workload": spec_summary(spec), "symbols": len(tally.valid_per_symbol),
            "records": count, "expected": loaded, "sustained_records_per_s": round(sustained),
            "wall_s_including_startup": round(wall, 1), "wall_records_per_s": round(count / wall),
            "publish_records_per_s": round(published.rate),
        }
        record("first_job_throughput", result)
        return 0 if count == loaded else 1
    finally:
        if not args.keep:
            stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
