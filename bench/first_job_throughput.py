"""Throughput of the first job, Kafka → Flink → Kafka, on the real ES trades.

    .venv/bin/python bench/first_job_throughput.py [--copies N]

Runs against its own stack (ports +20000, data under .tickflow/bench-stack) so it never mixes with the
demo's or the tests' topics. It pre-loads md.raw.trades with the ES sample N times (distinct `source`
per copy, so every record is unique), then runs `trade_passthrough --bounded` in a local MiniCluster and
reports:

- sustained rate: records ÷ (last − first output record's Kafka timestamp); start-up excluded
- wall rate: records ÷ the wall time of `tickflow run`; JVM and job start-up included

and appends the figures to bench/results/first_job_throughput.jsonl.
"""
from __future__ import annotations

import argparse
import sys
import time

from bench_stack import fresh_kafka, machine, record, run_bounded

from jobs import catalog


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=2, help="how many times to load the 500k ES trades")
    p.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = p.parse_args()

    from connectors.csv_trades import CsvTradeSource
    from connectors.es_sample import es_sample_csv
    from connectors.kafka_publisher import RawPublisher
    from connectors.replay import replay_file
    from tickflow import stack
    from tickflow.runtime.kafka_reading import end_offsets, read_to_end

    s = fresh_kafka()
    try:
        csv = es_sample_csv(s.cache_dir)
        loaded, publish_s = 0, 0.0
        for copy in range(args.copies):
            pub = RawPublisher(s.kafka_bootstrap, client_id="bench")
            r = replay_file(csv, pub, CsvTradeSource(source=f"bench{copy}"))
            pub.close()
            loaded += r.published
            publish_s += r.seconds
        print(f"pre-loaded {loaded:,} trades ({loaded / publish_s:,.0f}/s publish rate)")

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
            "machine": machine(),
            "records": count, "expected": loaded, "sustained_records_per_s": round(sustained),
            "wall_s_including_startup": round(wall, 1), "wall_records_per_s": round(count / wall),
            "publish_records_per_s": round(loaded / publish_s),
        }
        record("first_job_throughput", result)
        return 0 if count == loaded else 1
    finally:
        if not args.keep:
            stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
