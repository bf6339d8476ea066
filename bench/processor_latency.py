"""Bar latency of the market data processor on a live-paced feed: the delay from a bar's window closing
(the watermark passing its end) to its record on md.bars, at a rate up to the throughput benchmark's.

    .venv/bin/python bench/processor_latency.py [--rate 5000 | --rate-share 0.9] [--symbols 200] [--minutes 5]
                                                [--feed workload|es]

Runs its own Kafka (bench_stack.py) and the processor, unbounded, in a local MiniCluster (parallelism 2,
RocksDB, checkpoints every 2 s, exactly-once sinks). A paced publisher (paced_feed.py) sends ``--rate``
ticks/s: by default the benchmark workload's trades (tickflow_testkit.workload: ``--symbols`` Zipf-skewed
symbols from three sources, their own prices; ``--feed es``: the ES prices round-robin over the symbols),
stamping each trade's ts_event with the wall clock as it sends it, so event time is wall time. The
watermark then passes a bar's end E (ms) at E + out-of-orderness (2 s): the last trade sent before that
instant closes the window. The delay of a bar is

- produced: the bar record's Kafka timestamp (the sink's send time: the record leaving the job) − (E + 2 s),
- visible: when a read_committed consumer first sees it − (E + 2 s); exactly-once sinks commit on
  checkpoints (every 2 s), so this adds up to a checkpoint interval, and
- commit wait: visible − produced, what a read_committed consumer waits for the checkpoint.

The result records the rate as a share of the latest recorded processor_throughput sustained rate (the
"full rate" of the issue is the throughput benchmark's), and the rate the feed actually kept. The first
two minutes are a warm-up and are not counted. Appends to bench/results/processor_latency.jsonl.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid

from bench_stack import ROOT, fresh_kafka, machine, record, workload_spec
from paced_feed import PacedFeed, closed_ms, es_feed, es_prices, first_bars, percentile, workload_feed

from jobs import catalog


def latest_sustained() -> int | None:
    """The processor's sustained ticks/s of the latest processor_throughput result, if any."""
    import json

    path = ROOT / "bench" / "results" / "processor_throughput.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    for line in reversed(lines):
        try:
            return json.loads(line).get("sustained_ticks_per_s")
        except ValueError:
            continue
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=5_000, help="ticks per second")
    p.add_argument("--rate-share", type=float,
                   help="instead of --rate: this share of the latest recorded processor_throughput sustained "
                        "rate (the benchmark's full rate), e.g. 0.9")
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--feed", choices=("workload", "es"), default="workload",
                   help="the workload's trades (default), or the ES prices round-robin over the symbols")
    p.add_argument("--parallelism", type=int, default=2)
    args = p.parse_args()
    if args.rate_share is not None:
        sustained = latest_sustained()
        if not sustained:
            p.error("--rate-share needs a recorded bench/results/processor_throughput.jsonl")
        args.rate = round(args.rate_share * sustained)
        print(f"rate: {args.rate_share} × {sustained:,} = {args.rate:,} ticks/s", flush=True)

    from kafka import KafkaConsumer

    from connectors.es_sample import es_sample_csv
    from tickflow import stack

    s = fresh_kafka()
    job = None
    try:
        csv = es_sample_csv(s.cache_dir)
        if args.feed == "workload":
            trades = workload_feed(workload_spec(200_000, args.symbols), csv, 200_000)
        else:
            trades = es_feed(es_prices(csv, 100_000), args.symbols)
        job = subprocess.Popen([sys.executable, "-m", "tickflow.cli", "run", catalog.MARKET_DATA_PROCESSOR.module,
                                "--parallelism", str(args.parallelism),
                                "--group-id", f"bench-{uuid.uuid4().hex[:8]}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        seen: dict[str, tuple[dict, int, int]] = {}
        consumer = KafkaConsumer("md.bars", bootstrap_servers=s.kafka_bootstrap, isolation_level="read_committed",
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        seconds = args.minutes * 60
        feed = PacedFeed(s.kafka_bootstrap, args.rate, seconds, trades)
        began = time.time()
        feed.start()
        while time.time() - began < seconds + 10:
            for records in consumer.poll(timeout_ms=200).values():
                first_bars(records, seen, int(time.time() * 1000))
            if job.poll() is not None:
                print(job.stderr.read().decode()[-2000:], file=sys.stderr)
                return 1
        sent = feed.stop()
        warm_until_ns = int((began + 120) * 1e9)
        produced, visible, waits, by_tf = [], [], [], {}
        for v, produced_ms, visible_ms in seen.values():
            if v["bucket_start"] < warm_until_ns or v["timeframe"] == "1d":
                continue
            closed = closed_ms(v)
            produced.append(produced_ms - closed)
            visible.append(visible_ms - closed)
            waits.append(visible_ms - produced_ms)
            by_tf[v["timeframe"]] = by_tf.get(v["timeframe"], 0) + 1
        if not produced:
            print(f"no bars after the warm-up ({len(seen)} bars seen in all)", file=sys.stderr)
            return 1
        sustained = latest_sustained()

        def pcts(values: list[float]) -> dict:
            return {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "max": max(values)}

        record("processor_latency", {
            "bench": "processor_latency", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "rate_ticks_per_s": args.rate, "symbols": args.symbols, "feed": args.feed,
            "parallelism": args.parallelism, "minutes": args.minutes, "ticks_sent": sent,
            "rate_share_asked": args.rate_share,
            "rate_kept_ticks_per_s": round(sent / seconds),
            "processor_sustained_ticks_per_s_of_record": sustained,
            "rate_share_of_sustained": round(args.rate / sustained, 3) if sustained else None,
            "bars_measured": len(produced), "by_timeframe": by_tf,
            "produced_delay_ms": pcts(produced), "visible_delay_ms": pcts(visible),
            "commit_wait_ms": pcts(waits),
        })
        return 0
    finally:
        if job is not None and job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)
        stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
