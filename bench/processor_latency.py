"""Bar latency of the market data processor on a live-paced feed: the delay from a bar's window closing
(the watermark passing its end) to its record on md.bars.

    .venv/bin/python bench/processor_latency.py [--rate 5000] [--symbols 20] [--minutes 5]

Runs its own Kafka (bench_stack.py) and the processor, unbounded, in a local MiniCluster. A paced
publisher replays the real ES trades (prices and sizes in file order) at ``--rate`` ticks/s spread over
``--symbols`` symbols, stamping each trade's ts_event with the wall clock as it sends it, so event time
is wall time. The watermark then passes a bar's end E (ms) at E + out-of-orderness (2 s); the delay of a
bar is

- produced: the bar record's Kafka timestamp (the sink's send time) − (E + 2 s), and
- visible: when a read_committed consumer first sees it − (E + 2 s); exactly-once sinks commit on
  checkpoints (every 2 s), so this adds up to a checkpoint interval.

The first two minutes are a warm-up and are not counted. Appends to bench/results/processor_latency.jsonl.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid

from bench_stack import fresh_kafka, machine, record
from paced_feed import PacedFeed, closed_ms, es_prices, first_bars, percentile

from jobs import catalog


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=5_000, help="ticks per second")
    p.add_argument("--symbols", type=int, default=20)
    p.add_argument("--minutes", type=float, default=5.0)
    args = p.parse_args()

    from kafka import KafkaConsumer

    from connectors.es_sample import es_sample_csv
    from tickflow import stack

    s = fresh_kafka()
    job = None
    try:
        trades = es_prices(es_sample_csv(s.cache_dir), 100_000)
        job = subprocess.Popen([sys.executable, "-m", "tickflow.cli", "run", catalog.MARKET_DATA_PROCESSOR.module,
                                "--group-id", f"bench-{uuid.uuid4().hex[:8]}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        seen: dict[str, tuple[dict, int, int]] = {}
        consumer = KafkaConsumer("md.bars", bootstrap_servers=s.kafka_bootstrap, isolation_level="read_committed",
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        seconds = args.minutes * 60
        feed = PacedFeed(s.kafka_bootstrap, args.rate, args.symbols, seconds, trades)
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
        produced, visible, by_tf = [], [], {}
        for v, produced_ms, visible_ms in seen.values():
            if v["bucket_start"] < warm_until_ns or v["timeframe"] == "1d":
                continue
            closed = closed_ms(v)
            produced.append(produced_ms - closed)
            visible.append(visible_ms - closed)
            by_tf[v["timeframe"]] = by_tf.get(v["timeframe"], 0) + 1
        if not produced:
            print(f"no bars after the warm-up ({len(seen)} bars seen in all)", file=sys.stderr)
            return 1
        record("processor_latency", {
            "bench": "processor_latency", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(), "rate_ticks_per_s": args.rate, "symbols": args.symbols,
            "minutes": args.minutes, "ticks_sent": sent, "bars_measured": len(produced), "by_timeframe": by_tf,
            "produced_delay_ms": {"p50": percentile(produced, 0.5), "p99": percentile(produced, 0.99),
                                  "max": max(produced)},
            "visible_delay_ms": {"p50": percentile(visible, 0.5), "p99": percentile(visible, 0.99),
                                 "max": max(visible)},
        })
        return 0
    finally:
        if job is not None and job.poll() is None:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=60)
        stack.down(s, log=lambda _: None)


if __name__ == "__main__":
    sys.exit(main())
