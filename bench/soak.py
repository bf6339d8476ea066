"""Pipeline soak: the whole pipeline on a session cluster, fed live at the benchmark rate for 15 minutes.

It checks that memory stays bounded (state TTL works), checkpoints stay under their timeout and latency
does not drift.

    .venv/bin/python bench/soak.py [--rate 2000] [--symbols 200] [--minutes 15] [--warmup-minutes 2] [--quality]

Brings up its own stack (Kafka, PostgreSQL, S3 and a Flink session cluster with 4 slots, ports +22000,
data under .tickflow/soak-stack, wiped first), applies the migrations and submits, unbounded, each with
parallelism 1: market_data_processor, storage_writer (PostgreSQL and the Parquet lake on S3), indicators
and, with ``--quality``, data_quality. The jobs' duplicate state is held per symbol for the allowed
lateness in event time, so their state has to level off well inside the run. A paced publisher
(bench/paced_feed.py) sends the benchmark workload's trades (tickflow_testkit.workload: ``--symbols``
Zipf-skewed symbols from three sources, the real ES prices scaled to each) at ``--rate`` ticks/s, stamped
with the wall clock.

Every 15 s it samples the Flink REST API (per job: state, restarts, the latest completed checkpoint's
duration and state size, failed checkpoints; the TaskManager's JVM and managed memory), /proc (RSS of the
TaskManager and its Python workers; CPU of the machine, of the soak's processes and of everything else)
and the jobs' input lag; it times every bar (first revision) from its window's close to its record on
md.bars (produced), to a read_committed consumer (visible) and, per 1m bucket, to PostgreSQL. The
verdicts are in bench/soak_report.py. Appends to bench/results/pipeline_soak.jsonl; the time series goes
to bench/results/pipeline_soak_series.json. Everything it started is stopped at the end, on Ctrl-C too.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass

from bench_stack import ROOT, machine, record, use_stack, workload_spec

SOAK_ENV = use_stack(22000, "soak-stack", flink_task_slots="4")

import soak_probes as probes  # noqa: E402  (after the stack's settings)
import soak_report as report  # noqa: E402
from paced_feed import (  # noqa: E402
    OUT_OF_ORDERNESS_MS,
    PacedFeed,
    Pacing,
    closed_ms,
    first_bars,
    workload_feed,
)

from jobs import catalog  # noqa: E402
from tickflow import cluster  # noqa: E402

# the highest rate the pipeline (processor, storage writer, indicators) kept up with on the two cores of
# the project's machine in short runs (bench/README.md, pipeline soak): the processor latency benchmark's
# 5,000 ticks/s needs more than the two cores for the three jobs and their services
DEFAULT_RATE = 2_000
SAMPLE_EVERY_S = 15
TAIL_S = 15  # after the feed stops: the last bars reach md.bars, the consumer and PostgreSQL
SERIES = ROOT / "bench" / "results" / "pipeline_soak_series.json"
FLINK_CONF = ROOT / "flink-conf" / "local" / "config.yaml"
HEAVY_OTHERS = 0.25  # share of the machine used by other work above which the record says so
# bursts every 50 ms batched for up to 20 ms: the latency benchmark's 5 ms bursts with 1 ms linger cost the
# feed and the broker several times the CPU per trade (measured), CPU the jobs need here; event time stays
# within a burst of the wall clock, far inside the 2 s out-of-orderness
SOAK_PACING = Pacing(burst_s=0.05, linger_ms=20)


@dataclass(frozen=True)
class SoakJob:
    """A job of the pipeline: its jobs/<name>.py arguments, and the consumer group and topic of its main input."""

    name: str
    args: tuple[str, ...]
    group: str
    topic: str


def pipeline(s, quality: bool) -> list[SoakJob]:
    """The jobs of the soak, each with parallelism 1 and its own consumer group."""
    one = ("--parallelism", "1")
    jobs = [
        SoakJob(catalog.MARKET_DATA_PROCESSOR.module, (*one, "--group-id", "soak-mdp"),
                "soak-mdp", "md.raw.trades"),
        SoakJob(catalog.STORAGE_WRITER.module, (*one, "--lake", f"s3://{s.s3_bucket}/lake",
                                   "--group-id", "soak-storage"), "soak-storage", "md.raw.trades"),
        SoakJob(catalog.INDICATORS.module, (*one, "--group-id", "soak-indicators"), "soak-indicators", "md.bars"),
    ]
    if quality:
        jobs.append(SoakJob(catalog.DATA_QUALITY.module,
                            (*one, "--group-id", "soak-quality"),
                            "soak-quality", "md.raw.trades"))
    return jobs


def checkpoint_timeout_ms() -> int:
    """execution.checkpointing.timeout of the local cluster's configuration, in ms."""
    import yaml

    text = str(yaml.safe_load(FLINK_CONF.read_text())["execution"]["checkpointing"]["timeout"])
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|min|m|h)?\s*", text)
    if not m:
        raise ValueError(f"{FLINK_CONF}: checkpoint timeout {text!r} not understood")
    return int(m.group(1)) * {"ms": 1, "s": 1000, "min": 60_000, "m": 60_000, "h": 3_600_000, None: 1}[m.group(2)]


# --- the stack and the jobs -----------------------------------------------------------------------------

def fresh_stack(s) -> None:
    """Stop and wipe an earlier soak stack, then start Kafka, PostgreSQL, S3, the schema and the cluster."""
    from tickflow import migrations, stack

    cluster.down(s)
    stack.down(s, log=lambda _: None)
    shutil.rmtree(s.home, ignore_errors=True)
    stack.up(s)
    conn = migrations.connect(s.postgres_dsn)
    try:
        migrations.migrate(conn)
    finally:
        conn.close()
    print(cluster.up(s), flush=True)


def submit(s, jobs: list[SoakJob], ids: dict[str, str]) -> None:
    """Submit every job (unbounded); ``ids`` gets name → Flink job id as each is accepted."""
    for job in jobs:
        ids[job.name] = cluster.submit(s, job.name, list(job.args))
        print(f"submitted {job.name}: {ids[job.name]}", flush=True)


def all_running(s, ids: dict[str, str]) -> bool:
    """Every job RUNNING with every task running (cluster.tasks_running)."""
    return all(cluster.tasks_running(s, job_id) for job_id in ids.values())


def teardown(s, ids: dict[str, str]) -> None:
    """Cancel the jobs, stop the cluster and the stack; a second Ctrl-C does not cut this short."""
    from tickflow import stack
    from tickflow.processes import StackError

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for name, job_id in ids.items():
            try:
                cluster.cancel(s, job_id)
            except StackError as exc:
                print(f"cancel {name}: {exc}", file=sys.stderr)
        try:
            print(cluster.down(s))
        except StackError as exc:
            print(f"cluster down: {exc}", file=sys.stderr)
        stack.down(s)
    finally:
        signal.signal(signal.SIGINT, previous)


# --- sampling -------------------------------------------------------------------------------------------

class Sampler(threading.Thread):
    """Takes a sample every ``every_s`` seconds until stopped (and one at the start and the end)."""

    def __init__(self, s, ids: dict[str, str], jobs: list[SoakJob], every_s: float) -> None:
        super().__init__(daemon=True)
        self.s, self.ids, self.jobs, self.every_s = s, ids, jobs, every_s
        self.samples: list[dict] = []
        self._stop_event = threading.Event()
        self._cpu = probes.CpuMeter()
        self._lag = probes.LagMeter(s.kafka_bootstrap)

    def run(self) -> None:
        self._cpu.share(self._our_processes())
        while True:
            self.samples.append(self.sample())
            if self._stop_event.wait(self.every_s):
                break
        self.samples.append(self.sample())
        self._lag.close()

    def stop(self) -> list[dict]:
        self._stop_event.set()
        self.join(120)
        return self.samples

    def _our_processes(self) -> dict[str, list[int]]:
        """The soak's processes by part, each with its children: the TaskManager (with its Python workers),
        the JobManager, Kafka, PostgreSQL, S3, and this process (the feed, the consumer, the sampler)."""
        flink = self.s.run_dir / "flink"
        roots = {"taskmanager": cluster.taskmanager_pids(self.s),
                 "jobmanager": probes.pids_in(flink, "*standalonesession*.pid"),
                 **{name: probes.pids_in(self.s.run_dir, f"{name}.pid") for name in ("kafka", "postgres", "s3")}}
        # this process alone (its threads included): the services it started are its children
        return {**{name: probes.descendants(pids) for name, pids in roots.items()}, "soak": [os.getpid()]}

    def sample(self) -> dict:
        tm = cluster.taskmanager_pids(self.s)
        tree = probes.descendants(tm)
        return {
            "t_ms": int(time.time() * 1000),
            "jobs": {name: probes.job_sample(self.s, job_id) for name, job_id in self.ids.items()},
            "tm": probes.taskmanager_memory(self.s),
            "tm_rss_mb": probes.rss_mb(tree) if tm else None,
            "tm_jvm_rss_mb": probes.rss_mb(tm) if tm else None,
            "tm_children": len(tree) - len(tm),
            "lag": {j.name: self._lag.lag(j.group, j.topic) for j in self.jobs},
            "cpu": self._cpu.share(self._our_processes()),
            "loadavg_1m": float(open("/proc/loadavg").read().split()[0]),
        }


@dataclass(frozen=True)
class BarRecord:
    """The parts of an md.bars message :func:`paced_feed.first_bars` reads."""

    key: bytes
    value: bytes
    timestamp: int


def bar_consumer(s):
    """A read_committed consumer of md.bars from the start. librdkafka's: kafka-python's poll loop alone
    took a seventh of a core while idle (measured), CPU the jobs need here."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": "soak-bars",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["md.bars"])
    return consumer


def watch(s, feed: PacedFeed, until: float) -> tuple[dict, int, list[tuple[int, int]]]:
    """Until ``until`` (epoch s): each bar's first revision as md.bars delivers it (read_committed), how many
    revised bars came (late trades re-emit their bar), and each new 1m bucket's first appearance in
    PostgreSQL (polled every 0.5 s)."""
    seen: dict[str, tuple[dict, int, int]] = {}
    revised = 0
    consumer = bar_consumer(s)
    newest = probes.NewestBar(s.postgres_dsn)
    next_pg = 0.0
    try:
        while time.time() < until:
            records = [BarRecord(m.key(), m.value(), m.timestamp()[1]) for m in consumer.consume(500, 0.2)
                       if m.error() is None]
            first_bars(records, seen, int(time.time() * 1000))
            revised += sum(json.loads(r.value)["revision"] > 0 for r in records)
            if time.time() >= next_pg:
                newest.poll()
                next_pg = time.time() + 0.5
            if not feed.alive() and time.time() < until - TAIL_S:
                raise RuntimeError("the paced publisher stopped early")
    finally:
        consumer.close()
        newest.close()
    return seen, revised, newest.arrivals


# --- the run --------------------------------------------------------------------------------------------

def run_soak(s, args: argparse.Namespace, jobs: list[SoakJob], ids: dict[str, str]) -> dict:
    """Feed, sample and watch for ``--minutes``; the raw material of the report."""
    from connectors.es_sample import es_sample_csv
    from tickflow.runtime.kafka_reading import end_offsets

    trades = workload_feed(workload_spec(200_000, args.symbols), es_sample_csv(s.cache_dir), 200_000)
    seconds = args.minutes * 60
    sampler = Sampler(s, ids, jobs, SAMPLE_EVERY_S)
    feed = PacedFeed(s.kafka_bootstrap, args.rate, seconds, trades, client_id="soak-feed", pacing=SOAK_PACING)
    began = time.time()
    feed.start()
    sampler.start()
    print(f"feeding {args.rate:,} ticks/s over {args.symbols} symbols for {args.minutes} min; "
          f"Flink web UI {s.flink_rest}", flush=True)
    try:
        bars, revised, pg = watch(s, feed, began + seconds + TAIL_S)
    finally:
        sent = feed.stop()
        samples = sampler.stop()
    return {"began_ms": int(began * 1000), "ended_ms": int((began + seconds) * 1000), "sent": sent,
            "bars": list(bars.values()), "revised_bars": revised, "postgres": pg, "samples": samples,
            "dead_letters": sum(end_offsets(s.kafka_bootstrap, "md.dlq").values())}


def analyse(raw: dict, args: argparse.Namespace, jobs: list[SoakJob]) -> tuple[dict, dict]:
    """The record (figures and verdicts) and the time series of a run."""
    start = raw["began_ms"] + int(args.warmup_minutes * 60_000)
    bounds = report.thirds(start, raw["ended_ms"])
    samples = raw["samples"]
    measured = [x for x in samples if start <= x["t_ms"] <= raw["ended_ms"]]
    delays = report.bar_delays(raw["bars"], closed_ms, start, raw["ended_ms"])
    latency = report.latency_by_third(delays, raw["postgres"], OUT_OF_ORDERNESS_MS, bounds)
    memory = report.memory_summary(measured, bounds)
    checkpoints = report.checkpoint_summary(samples, measured, checkpoint_timeout_ms())
    lag = report.lag_summary(measured, bounds, args.rate, {j.name for j in jobs if j.topic == "md.raw.trades"})
    up = report.jobs_up(samples)
    drift = report.drift_verdict(latency)
    cpu = report.cpu_summary(measured)
    verdicts = {"memory_bounded": memory["ok"], "checkpoints_ok": checkpoints["ok"], "latency_no_drift": drift["ok"],
                "keeps_up": lag["ok"], "jobs_stayed_up": up["ok"]}
    verdicts["passed"] = all(verdicts.values())
    result = {
        "bench": "pipeline_soak", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(), "rate_ticks_per_s": args.rate, "symbols": args.symbols, "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes, "task_slots": int(SOAK_ENV["TICKFLOW_FLINK_TASK_SLOTS"]),
        "jobs": {j.name: " ".join(j.args) for j in jobs},
        "ticks_sent": raw["sent"], "feed_ticks_per_s": round(raw["sent"] / (args.minutes * 60)),
        "samples": len(samples), "bars_measured": len(delays), "bars_revised": raw["revised_bars"],
        "dead_letters": raw["dead_letters"],
        "latency_by_third": latency, "latency_drift": drift,
        "memory": memory, "checkpoints": checkpoints, "input_lag": lag, "jobs_up": up,
        "cpu_share": cpu, "note": load_note(cpu),
        "verdicts": verdicts,
    }
    series = {"when": result["when"], "rate_ticks_per_s": args.rate,
              "measured_from_s": (start - raw["began_ms"]) / 1000,
              "ended_s": (raw["ended_ms"] - raw["began_ms"]) / 1000,
              "samples": [{**x, "t_s": round((x["t_ms"] - raw["began_ms"]) / 1000, 1)} for x in samples],
              "bars": [{**d, "closed_s": round((d["closed_ms"] - raw["began_ms"]) / 1000, 1)} for d in delays],
              "postgres": [{"bucket_start_ms": b, "seen_ms": w} for b, w in raw["postgres"]]}
    return result, series


def load_note(cpu: dict) -> str:
    """Whether other work shared the machine during the measured span."""
    others = cpu.get("others")
    if others is None:
        return "CPU of other processes not measured"
    share = f"other processes used {others:.0%} of the machine's CPU (median over the samples)"
    return f"machine shared with other work: {share}" if others > HEAVY_OTHERS else share


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=DEFAULT_RATE, help="ticks per second (default: %(default)s)")
    p.add_argument("--symbols", type=int, default=200,
                   help="the workload's symbols (tickflow_testkit.workload: Zipf-skewed, three sources)")
    p.add_argument("--minutes", type=float, default=15.0, help="length of the feed")
    p.add_argument("--warmup-minutes", type=float, default=2.0, help="left out of the verdicts")
    p.add_argument("--quality", action=argparse.BooleanOptionalAction, default=False,
                   help="run the data_quality job too (default: no, it does not fit beside the others at the "
                        "default rate on two cores)")
    args = p.parse_args()
    if args.warmup_minutes >= args.minutes:
        p.error("--warmup-minutes must be shorter than --minutes")
    return args


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    from tickflow.processes import wait_until
    from tickflow.runtime import config

    s = config.load()
    signal.signal(signal.SIGTERM, _interrupt)
    ids: dict[str, str] = {}
    jobs = pipeline(s, args.quality)
    try:
        fresh_stack(s)
        submit(s, jobs, ids)
        wait_until(lambda: all_running(s, ids), 300, "every job's tasks to run", interval=2.0)
        result, series = analyse(run_soak(s, args, jobs, ids), args, jobs)
        SERIES.write_text(json.dumps(series, indent=1) + "\n")
        record("pipeline_soak", result)
        print(f"time series: {SERIES.relative_to(ROOT)}")
        return 0 if result["verdicts"]["passed"] else 1
    except KeyboardInterrupt:
        print("interrupted: stopping the jobs, the cluster and the stack", file=sys.stderr)
        return 130
    finally:
        teardown(s, ids)
        print(f"stopped; the soak stack's data is kept in {s.home}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
