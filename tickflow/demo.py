"""``tickflow demo``: the README's first command, end to end on the local stack.

Stack up → Flink session cluster up → replay the real ES trades → submit the first job (bounded) → wait
until it has moved everything → print what happened and where to look. A second run reuses the running
services and moves only the newly replayed trades (the job resumes from its committed offsets).
"""
from __future__ import annotations

import time

from tickflow import cluster, stack
from tickflow.config import Settings
from tickflow.kafka_reading import count_committed, end_offsets
from tickflow.processes import StackError, wait_until


def _step(name: str) -> float:
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def run(s: Settings) -> int:
    from connectors.csv_trades import CsvTradeSource
    from connectors.es_sample import es_sample_csv
    from connectors.kafka_publisher import RawPublisher
    from connectors.replay import replay_file
    from jobs.trade_passthrough import SINK_TOPIC, SOURCE_TOPIC

    started = time.monotonic()
    _step("local stack (Kafka, PostgreSQL, S3)")
    stack.up(s)
    _step("Flink session cluster")
    print(cluster.up(s))

    t = _step("replay: real ES futures trades → md.raw.trades")
    csv = es_sample_csv(s.cache_dir)
    out_before = end_offsets(s.kafka_bootstrap, SINK_TOPIC)
    publisher = RawPublisher(s.kafka_bootstrap, client_id="tickflow-demo")
    try:
        replayed = replay_file(csv, publisher, CsvTradeSource())
    finally:
        publisher.close()
    print(f"published {replayed.published:,} trades in {time.monotonic() - t:.1f}s "
          f"({replayed.rate:,.0f}/s), skipped {replayed.skipped} malformed rows")

    t = _step("job trade_passthrough on the session cluster (bounded: stops at the replay's end)")
    job_id = cluster.submit(s, "trade_passthrough", ["--bounded"])
    print(f"submitted job {job_id}; watch it at {s.flink_rest}/#/job/running/{job_id}/overview")
    wait_until(lambda: cluster.job_state(s, job_id) in ("FINISHED", "FAILED", "CANCELED"), 600,
               "the job to finish", interval=1.0)
    state = cluster.job_state(s, job_id)
    job = cluster.rest(s, f"/jobs/{job_id}")
    if state != "FINISHED":
        raise StackError(f"job {job_id} ended {state}; see {s.log_dir / 'flink'}")
    moved = count_committed(s.kafka_bootstrap, SINK_TOPIC, out_before)
    seconds = job.get("duration", 0) / 1000

    print("\n== summary")
    print(f"trades replayed to {SOURCE_TOPIC}:           {replayed.published:,}")
    print(f"records on {SINK_TOPIC} (read_committed): {moved:,}")
    print(f"job {job_id} {state} in {seconds:.1f}s (incl. start-up): {moved / max(seconds, 1e-9):,.0f} records/s")
    print(f"whole demo: {time.monotonic() - started:.0f}s")
    print("where to look:")
    print(f"  Flink web UI        {s.flink_rest}")
    print(f"  Kafka               {s.kafka_bootstrap}  (topics: `tickflow stack status`, schemas/topics.yaml)")
    print(f"  checkpoints (S3)    s3://{s.s3_bucket}/flink/checkpoints at {s.s3_endpoint}")
    print(f"  logs                {s.log_dir}")
    print("  stop everything     tickflow cluster down && tickflow stack down")
    if moved != replayed.published:
        raise StackError(f"expected {replayed.published} records out, read {moved}")
    return 0
