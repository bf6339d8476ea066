"""Scaling of the market data processor: sustained ticks/s against parallelism (1, 2) and TaskManagers (1, 2)
on the local session cluster, over the benchmark workload on md.raw.trades's 4 partitions.

    .venv/bin/python bench/processor_scaling.py [--trades 1000000] [--symbols 200] [--reject-share 0.03]

On the bench stack (Kafka and S3 for the cluster's checkpoints; bench_stack.py) md.raw.trades is
pre-loaded once with the workload (tickflow_testkit.workload). Then, per configuration, a session cluster
(`tickflow cluster up`: RocksDB, incremental checkpoints every 2 s) is started with its TaskManagers and
slots (TICKFLOW_FLINK_TASKMANAGERS, TICKFLOW_FLINK_TASK_SLOTS) and `market_data_processor --bounded
--parallelism P` is submitted with its own consumer group, so every configuration reads the same records:

- 1 TaskManager × 2 slots, parallelism 1
- 1 TaskManager × 2 slots, parallelism 2
- 2 TaskManagers × 1 slot, parallelism 2

Sustained ticks/s as in bench/processor_throughput.py (trades the 1m bars add after the first ÷ first →
last 1m bar's Kafka timestamp); wall ticks/s over the time from submission to FINISHED. Appends one line
to bench/results/processor_scaling.jsonl (rendered as a table and drawn in bench/README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass

from bench_stack import (
    bar_increments,
    load_workload,
    machine,
    read_topic,
    record,
    spec_summary,
    sustained_rate,
    topic_ends,
    workload_spec,
)

from jobs import catalog


@dataclass(frozen=True)
class Layout:
    taskmanagers: int
    slots: int
    parallelism: int

    @property
    def label(self) -> str:
        tms = f"{self.taskmanagers} TaskManager{'s' if self.taskmanagers > 1 else ''}"
        return f"{tms} × {self.slots} slot{'s' if self.slots > 1 else ''}, parallelism {self.parallelism}"


LAYOUTS = (Layout(1, 2, 1), Layout(1, 2, 2), Layout(2, 1, 2))


def settings_for(layout: Layout):
    """This process's settings with the layout's TaskManagers and slots."""
    from tickflow.runtime import config

    os.environ["TICKFLOW_FLINK_TASKMANAGERS"] = str(layout.taskmanagers)
    os.environ["TICKFLOW_FLINK_TASK_SLOTS"] = str(layout.slots)
    return config.load()


def run_layout(layout: Layout, trades: int, late: int) -> dict:
    """Start a cluster of the layout, run the processor bounded on it, stop the cluster; its figures.
    ``trades``, ``late``: the workload's valid trades and its LATE ones."""
    from tickflow import cluster

    s = settings_for(layout)
    print(f"{layout.label}: {cluster.up(s)}", flush=True)
    try:
        before = topic_ends(s.kafka_bootstrap, "md.bars")
        dlq_before = topic_ends(s.kafka_bootstrap, "md.dlq")
        t0 = time.monotonic()
        job_id = cluster.submit(s, catalog.MARKET_DATA_PROCESSOR.module,
                                ["--bounded", "--parallelism", str(layout.parallelism),
                                 "--group-id", f"bench-scaling-{uuid.uuid4().hex[:8]}"])
        state = "RUNNING"
        while state not in ("FINISHED", "FAILED", "CANCELED"):
            time.sleep(1)
            state = cluster.job_state(s, job_id)
        wall = time.monotonic() - t0
        if state != "FINISHED":
            raise SystemExit(f"{layout.label}: the processor ended {state}")
        stamped, final = bar_increments(read_topic(s.kafka_bootstrap, "md.bars", before))
        sustained, span = sustained_rate(stamped)
        counted = sum(b["trade_count"] for b in final.values())
        late_dead = sum(1 for _, _, v in read_topic(s.kafka_bootstrap, "md.dlq", dlq_before)
                        if json.loads(v)["reason"] == "LATE")
        return {"label": layout.label, "taskmanagers": layout.taskmanagers, "slots_per_taskmanager": layout.slots,
                "parallelism": layout.parallelism, "sustained_ticks_per_s": round(sustained),
                "first_to_last_1m_bar_s": round(span, 1), "wall_s_from_submit": round(wall, 1),
                "wall_ticks_per_s": round(trades / wall), "trades_in_1m_bars": counted,
                "trades_in_1m_bars_equal_valid": counted == trades, "late_dead_lettered": late_dead,
                # none lost, none counted twice: each valid trade in a bar, each LATE one in a bar or md.dlq
                "every_trade_once": counted + late_dead == trades + late}
    finally:
        print(cluster.down(s), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=1_000_000)
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--reject-share", type=float, default=0.03)
    args = p.parse_args()

    from tickflow import cluster, stack
    from tickflow.runtime import config

    spec = workload_spec(args.trades, args.symbols, args.reject_share)
    s = config.load()
    cluster.down(s)
    stack.down(s, log=lambda _: None)
    shutil.rmtree(s.home, ignore_errors=True)
    stack.up(s, ["kafka", "s3"], log=lambda _: None)
    configurations = []
    try:
        tally, published = load_workload(s, spec)
        partitions = topic_ends(s.kafka_bootstrap, "md.raw.trades")
        busy = sum(1 for n in partitions.values() if n > 0)
        for layout in LAYOUTS:
            c = run_layout(layout, tally.valid, tally.reasons.get("LATE", 0))
            c["busy_partitions"] = busy
            configurations.append(c)
            print(c, flush=True)
    finally:
        cluster.down(s)
        stack.down(s, log=lambda _: None)
    record("processor_scaling", {
        "bench": "processor_scaling", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(), "workload": spec_summary(spec), "symbols": len(tally.valid_per_symbol),
        "trades": tally.valid, "rejects": tally.messages - tally.valid, "partitions": len(partitions),
        "records_per_partition": [partitions[k] for k in sorted(partitions)],
        "publish_records_per_s": round(published.rate), "configurations": configurations,
    })
    return 0 if all(c["every_trade_once"] for c in configurations) else 1


if __name__ == "__main__":
    sys.exit(main())
