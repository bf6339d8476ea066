"""The pipeline under test, run once per scenario: a multi-symbol workload made of the real ES trades
(tickflow_testkit/workload.py: 24 symbols, three sources, about 2% rejects of every kind) published at a
steady rate to md.raw.trades while the market data processor (→ md.bars, md.dlq) and the storage writer (→ PostgreSQL,
Parquet lake on S3) run unbounded on the session cluster at parallelism 2; a fault is injected mid-stream;
the stream then ends and every output is read back for comparison.

A supervisor plays Kubernetes' part for the TaskManager: when its process is gone (killed, or exited on a
fatal task error) a new one is started, as the Deployment would restart the pod.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from confluent_kafka import Producer

from tests.integration.kafka_tools import (
    committed_past,
    last_records,
    open_transactions,
    reset_topics,
)
from tickflow import cluster
from tickflow.processes import wait_until
from tickflow.runtime.config import Settings
from tickflow.runtime.kafka_reading import read_to_end
from tickflow_testkit.workload import Message, Workload, WorkloadSpec, build, closing_messages

DAY_NS = 86_400_000_000_000
TOPICS = ["md.raw.trades", "md.raw.quotes", "md.bars", "md.dlq", "md.quotes", "md.indicators"]
TABLES = ["bars", "trades", "quotes", "indicators"]
JOBS = {"market_data_processor": "market-data-processor", "storage_writer": "storage-writer"}


SYMBOLS = 24
REJECT_SHARE = 0.02
PARALLELISM = 2


def workload(csv_path, n: int) -> tuple[Workload, list[Message]]:
    """The first ``n`` real ES trades spread over the symbols with rejects mixed in, then one closing trade
    per symbol two days after the last (as the next session's first trade does), so every bar of the
    workload closes on every partition. Built once, so every run publishes the same bytes."""
    w = build(WorkloadSpec(symbols=SYMBOLS, reject_share=REJECT_SHARE, limit=n), csv_path)
    last = max(json.loads(m.value)["ts_event"] for m in w.messages if m.expect is None)
    return w, closing_messages(w, last + 2 * DAY_NS)


class PacedPublisher(threading.Thread):
    """Publishes the messages in order at ``rate`` per second with an idempotent producer, so a broker
    restart neither loses nor repeats one; ``sent`` counts delivered messages."""

    def __init__(self, bootstrap: str, messages: list[tuple[bytes, bytes]], rate: float) -> None:
        super().__init__(daemon=True, name="paced-publisher")
        self.bootstrap, self.messages, self.rate = bootstrap, messages, rate
        self.sent = 0
        self.errors: list[str] = []

    def _delivered(self, err, _msg) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.sent += 1

    def run(self) -> None:
        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 5, "delivery.timeout.ms": 600_000})
        start = time.monotonic()
        for i, (key, value) in enumerate(self.messages):
            ahead = start + i / self.rate - time.monotonic()
            if ahead > 0:
                p.poll(ahead)
            while True:
                try:
                    p.produce("md.raw.trades", value=value, key=key, on_delivery=self._delivered)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        while p.flush(5) > 0:
            pass

    def progress(self) -> float:
        return self.sent / len(self.messages)


class TaskManagerSupervisor(threading.Thread):
    """Starts a TaskManager whenever none is alive, as Kubernetes restarts a TaskManager pod."""

    def __init__(self, s: Settings) -> None:
        super().__init__(daemon=True, name="taskmanager-supervisor")
        self.s = s
        self.stopping = threading.Event()
        self.restarts = 0

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            if not cluster.taskmanager_pids(self.s):
                cluster.start_taskmanager(self.s)
                self.restarts += 1


@dataclass
class Outputs:
    """What downstream readers see after a run."""

    bars_topic: list[tuple[bytes, bytes]]          # md.bars, read_committed, in offset order per partition
    bars_table: dict[tuple, tuple]
    trades_table: list[tuple]
    lake_bars: list[dict]
    lake_trades: list[dict]
    dead_letters: Counter                          # (reason, original bytes) of every md.dlq record
    restarts: dict[str, int] = field(default_factory=dict)   # failures each job recovered from
    seconds: float = 0.0                                      # the scenario, from reset to the last output read
    metaspace_mb: float | None = None                         # the TaskManager's class metadata at the end
    open_transactions: dict[str, dict] = field(default_factory=dict)  # per output topic, partitions left open


@dataclass
class Run:
    """One scenario's jobs and publisher, with what the fault injectors need to reach."""

    s: Settings
    name: str
    closes_at_ms: int   # the closing trades' event time: once the bar book's watermark is there, every bar is out
    job_ids: dict[str, str] = field(default_factory=dict)
    publisher: PacedPublisher | None = None
    restarts: dict[str, int] = field(default_factory=dict)   # each job's restarts before the stream ended

    @property
    def lake(self) -> str:
        return f"s3://{self.s.s3_bucket}/e2e/{self.name}/lake"

    def group(self, job: str) -> str:
        return f"e2e-{self.name}-{job}"

    def job_args(self, job: str) -> list[str]:
        extra = ["--lake", self.lake] if job == "storage_writer" else []
        return ["--parallelism", str(PARALLELISM), "--group-id", self.group(job), *extra]

    def submit(self, job: str, from_checkpoint: str | None = None) -> None:
        self.job_ids[job] = cluster.submit(self.s, job, self.job_args(job), savepoint=from_checkpoint)
        wait_until(lambda: cluster.tasks_running(self.s, self.job_ids[job]), 180, f"{job} to run")


def restarts(s: Settings, job_id: str) -> int:
    """How many failures the job has recovered from, by its exception history (Flink 2.2's numRestarts
    metric stays 0 across a full restart on a standalone cluster)."""
    return len(cluster.rest(s, f"/jobs/{job_id}/exceptions").get("exceptionHistory", {}).get("entries", []))


def reset(s: Settings, lake_prefix: str) -> None:
    """Empty topics, tables and the run's lake, so a run's outputs are its own."""
    from tickflow.stack import s3_client

    client = s3_client(s)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s.s3_bucket, Prefix=lake_prefix):
        for o in page.get("Contents", []):
            client.delete_object(Bucket=s.s3_bucket, Key=o["Key"])
    reset_topics(s.kafka_bootstrap, TOPICS)
    with psycopg2.connect(s.postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(TABLES)}")


def run_pipeline(s: Settings, name: str, messages: list[tuple[bytes, bytes]], closes_at_ns: int, rate: float,
                 fault: Callable[[Run], None] | None = None) -> Outputs:
    """Publish, inject ``fault`` while the trades flow, end the stream, read every output. ``closes_at_ns``
    is the event time of the closing trades (the last messages)."""
    started = time.monotonic()
    run = Run(s, name, closes_at_ns // 1_000_000)
    reset(s, f"e2e/{name}/")
    supervisor = TaskManagerSupervisor(s)
    supervisor.start()
    try:
        submitting = [threading.Thread(target=run.submit, args=(job,)) for job in JOBS]
        for thread in submitting:
            thread.start()
        for thread in submitting:
            thread.join()
        assert set(run.job_ids) == set(JOBS), "a job failed to start (see the errors above)"
        run.publisher = PacedPublisher(s.kafka_bootstrap, messages, rate)
        run.publisher.start()
        if fault:
            fault(run)
        run.publisher.join(timeout=900)
        assert not run.publisher.is_alive() and not run.publisher.errors, run.publisher.errors[:3]
        assert run.publisher.sent == len(messages)
        end_stream(run)
        metaspace = taskmanager_metaspace_mb(s)
    finally:
        supervisor.stopping.set()
        supervisor.join()
        for job_id in run.job_ids.values():
            if cluster.job_state(s, job_id) in ("RUNNING", "RESTARTING", "CREATED", "INITIALIZING"):
                cluster.cancel(s, job_id)
    out = read_outputs(run)
    out.seconds = time.monotonic() - started
    out.metaspace_mb = metaspace
    return out


def taskmanager_metaspace_mb(s: Settings) -> float | None:
    """Metaspace in use on the (first) TaskManager: what the runs so far have left on a TaskManager that
    lives on (a restarted one starts afresh)."""
    managers = cluster.rest(s, "/taskmanagers").get("taskmanagers", [])
    if not managers:
        return None
    metrics = cluster.rest(s, f"/taskmanagers/{managers[0]['id']}/metrics?get=Status.JVM.Memory.Metaspace.Used")
    return round(float(metrics[0]["value"]) / 2 ** 20, 1) if metrics else None


NO_WATERMARK = -(2 ** 63)   # Long.MIN_VALUE: what Flink reports before an operator's first watermark


def bar_book_watermark(s: Settings, job_id: str) -> int:
    """The lowest input watermark (ms) of the processor's bar book subtasks (NO_WATERMARK before any)."""
    vertex = next(v for v in cluster.rest(s, f"/jobs/{job_id}")["vertices"] if "bar book" in v["name"])
    marks = cluster.rest(s, f"/jobs/{job_id}/vertices/{vertex['id']}/watermarks")
    return min(int(float(m["value"])) for m in marks if m["id"].endswith("currentInputWatermark"))


def end_stream(run: Run) -> None:
    """The processor has checkpointed past the closing trade, its bar book's watermark has reached the
    closing trades (every earlier bar is emitted) and it has checkpointed twice more (those bars are
    committed) → stop it with a savepoint;
    the storage writer has checkpointed past every bar and trade → stop it with ``drain`` (its last
    Parquet files commit).

    The processor is not drained: a drain's maximum watermark would close the closing trade's own bars
    whenever it arrives, and Flink 2.2 drops it when the source is idle (FLINK-40499), so the outputs would
    depend on timing. docs/fault_tolerance.md says more."""
    s = run.s
    proc, writer = "market_data_processor", "storage_writer"
    trades_end = last_records(s.kafka_bootstrap, "md.raw.trades")  # every trade is published, the closing one too
    wait_until(lambda: committed_past(s.kafka_bootstrap, run.group(proc), "md.raw.trades", trades_end), 600,
               "the processor to checkpoint past the last trade", interval=1.0)
    # under load the watermark can trail the offsets by seconds, and a savepoint taken before it arrives
    # would keep the last bars in state, unemitted
    wait_until(lambda: bar_book_watermark(s, run.job_ids[proc]) >= run.closes_at_ms - 60_000, 600,
               "the bar book's watermark to reach the closing trades", interval=1.0)
    seen = cluster.latest_checkpoint(s, run.job_ids[proc])[0]
    wait_until(lambda: cluster.latest_checkpoint(s, run.job_ids[proc])[0] >= seen + 2, 120,
               "two more processor checkpoints")
    run.restarts = {job: restarts(s, job_id) for job, job_id in run.job_ids.items()}
    cluster.stop_with_savepoint(s, run.job_ids[proc])
    bars_end = last_records(s.kafka_bootstrap, "md.bars")  # the processor has stopped: md.bars is complete
    wait_until(lambda: committed_past(s.kafka_bootstrap, run.group(writer), "md.bars", bars_end)
               and committed_past(s.kafka_bootstrap, run.group(writer), "md.raw.trades", trades_end), 600,
               "the storage writer to checkpoint past the last bar", interval=1.0)
    cluster.stop_with_savepoint(s, run.job_ids[writer], drain=True)
    for job, job_id in run.job_ids.items():
        assert cluster.job_state(s, job_id) == "FINISHED", f"{job} ended {cluster.job_state(s, job_id)}"


def read_outputs(run: Run) -> Outputs:
    s = run.s
    bars_topic = [(r.key, r.value) for r in read_to_end(s.kafka_bootstrap, "md.bars")]
    dead = Counter()
    for r in read_to_end(s.kafka_bootstrap, "md.dlq"):
        d = json.loads(r.value)
        original = base64.b64decode(d["original"]) if d["original_encoding"] == "base64" else d["original"].encode()
        dead[(d["reason"], original)] += 1
    with psycopg2.connect(s.postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT symbol, timeframe, bucket_start, bucket_end, open, high, low, close, volume, vwap, "
                    "trade_count, revision, sources, pipeline_version FROM bars")
        bars_table = {r[:3]: r for r in cur.fetchall()}
        cur.execute("SELECT * FROM trades ORDER BY source, symbol, seq, time")
        trades_table = cur.fetchall()
    left_open = {topic: where for topic in ("md.bars", "md.dlq")
                 if (where := open_transactions(s.kafka_bootstrap, topic))}
    return Outputs(bars_topic, bars_table, trades_table, lake_rows(s, run.lake, "bars"),
                   lake_rows(s, run.lake, "trades"), dead, run.restarts, open_transactions=left_open)


def lake_rows(s: Settings, lake: str, dataset: str) -> list[dict]:
    """Every row of a lake dataset's committed files, sorted (files a failed attempt left in progress are
    hidden, as for any reader)."""
    fs = pafs.S3FileSystem(endpoint_override=s.s3_endpoint, access_key=s.s3_access_key,
                           secret_key=s.s3_secret_key, scheme="http")
    path = lake.removeprefix("s3://") + f"/dataset={dataset}"
    table = ds.dataset(path, format="parquet", partitioning="hive", filesystem=fs).to_table()
    return sorted(table.to_pylist(), key=lambda r: repr(sorted(r.items())))
