"""The benchmarks' own stack: ports +20000 and data under .tickflow/bench-stack, so a benchmark never
mixes with the demo's or the tests' topics. Import this before anything reads tickflow's settings; a
benchmark that needs a stack of its own (the soak) calls :func:`use_stack` right after."""
from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickflow.runtime.config import shifted_stack_env  # noqa: E402  (reads no settings)


def use_stack(offset: int, home: str, **extra: str) -> dict[str, str]:
    """Point this process's tickflow settings at the stack on the default ports + ``offset`` with its data in
    .tickflow/<home> (plus ``extra`` TICKFLOW_<NAME> values); call it before tickflow reads its settings.
    Returns the variables set."""
    env = {**shifted_stack_env(offset, home), **{f"TICKFLOW_{k.upper()}": v for k, v in extra.items()}}
    os.environ.update(env)
    return env


# TICKFLOW_BENCH_OFFSET moves the bench stack when two checkouts benchmark on one machine at once
BENCH_ENV = use_stack(int(os.environ.get("TICKFLOW_BENCH_OFFSET", "20000")), "bench-stack")


def fresh_kafka():
    """Stop any earlier bench stack, wipe it, start a new Kafka with the registry's topics."""
    from tickflow import stack
    from tickflow.runtime import config

    s = config.load()
    stack.down(s, log=lambda _: None)
    shutil.rmtree(s.home, ignore_errors=True)
    stack.up(s, ["kafka"], log=lambda _: None)
    return s


def record(name: str, result: dict) -> None:
    """Append a result to bench/results/<name>.jsonl and print it."""
    import json

    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"{name}.jsonl"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps(result) + "\n")


def machine() -> str:
    import platform

    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def run_bounded(job: str, *args: str, env: dict[str, str] | None = None) -> float | None:
    """`tickflow run JOB --bounded` in a local MiniCluster (``env``: TICKFLOW_* values on top of this
    process's); its wall time in seconds, or None (its error printed) when it failed."""
    import subprocess
    import time

    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "tickflow.cli", "run", job, "--bounded", *args],
                         capture_output=True, text=True, env={**os.environ, **(env or {})})
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
        return None
    return time.monotonic() - t0


def es_trade_copies(csv_path, copies: int) -> list[tuple]:
    """The ES sample as md.raw.trades messages, ``copies`` times: copy i as symbol ES<i> from source
    bench<i>, so copies are distinct trades (the duplicate checks key on source and seq) and spread over
    partitions."""
    from connectors.csv_trades import CsvTradeNormalizer, CsvTradeSource

    messages = []
    for copy in range(copies):
        n = CsvTradeNormalizer(CsvTradeSource(symbol=f"ES{copy}", source=f"bench{copy}"))
        with open(csv_path) as f:
            next(f)
            messages += [("md.raw.trades", f"ES{copy}".encode(), n.normalize(line)[1]) for line in f]
    return messages


@contextmanager
def kafka_with_es_copies(copies: int, resend: bool = False):
    """A fresh bench Kafka with md.raw.trades pre-loaded by :func:`es_trade_copies` (``resend``: then all of
    it again, byte for byte, as a replay repeated into the topic); yields (settings, the sample CSV, records
    loaded) and stops the stack afterwards."""
    from connectors.es_sample import es_sample_csv
    from tests.integration.kafka_tools import publish
    from tickflow import stack

    s = fresh_kafka()
    try:
        csv = es_sample_csv(s.cache_dir)
        messages = es_trade_copies(csv, copies)
        if resend:
            messages += messages
        publish(s.kafka_bootstrap, messages)
        print(f"pre-loaded {len(messages):,} trades")
        yield s, csv, len(messages)
    finally:
        stack.down(s, log=lambda _: None)


# --- the workload of the benchmarks (tickflow_testkit.workload) ----------------------------------------

ES_SAMPLE_ROWS = 500_000   # trades in the ES sample: one round of the workload


def workload_spec(trades: int = 2_000_000, symbols: int = 200, reject_share: float = 0.0):
    """The benchmarks' workload: ``trades`` valid trades of the ES sample (whole rounds of it above one
    sample, the first ``trades`` rows below) over ``symbols`` Zipf-skewed symbols from three sources, with
    ``reject_share`` rejects of every kind mixed in."""
    from tickflow_testkit.workload import WorkloadSpec

    if trades >= ES_SAMPLE_ROWS:
        return WorkloadSpec(symbols=symbols, reject_share=reject_share, rounds=-(-trades // ES_SAMPLE_ROWS))
    return WorkloadSpec(symbols=symbols, reject_share=reject_share, limit=trades)


def spec_summary(spec) -> dict:
    """The workload spec as a result records it."""
    return {"symbols": spec.symbols, "sources": len(spec.sources), "reject_share": spec.reject_share,
            "rounds": spec.rounds, "zipf_s": spec.zipf_s, "seed": spec.seed}


def load_workload(s, spec, topic: str = "md.raw.trades"):
    """Publish the workload to ``topic`` on the stack ``s`` (streamed, never held in memory); returns
    (its Tally, the publish result)."""
    from connectors.es_sample import es_sample_csv
    from tickflow_testkit.workload import Tally, publish, stream

    tally = Tally()
    result = publish(s.kafka_bootstrap, stream(spec, es_sample_csv(s.cache_dir), tally), topic)
    print(f"pre-loaded {result.published:,} records ({tally.valid:,} valid trades of {spec.symbols} symbols, "
          f"{result.published - tally.valid:,} rejects) at {result.rate:,.0f}/s (generation included)", flush=True)
    return tally, result


@contextmanager
def kafka_with_workload(spec):
    """A fresh bench Kafka with md.raw.trades pre-loaded by :func:`load_workload`; yields (settings, tally,
    publish result) and stops the stack afterwards."""
    from tickflow import stack

    s = fresh_kafka()
    try:
        tally, published = load_workload(s, spec)
        yield s, tally, published
    finally:
        stack.down(s, log=lambda _: None)


def read_topic(bootstrap: str, topic: str, start: dict[int, int] | None = None, values: bool = True):
    """(Kafka timestamp ms, key, value or None) of every committed record of ``topic`` from ``start``
    (default: the beginning) to its current end, read with confluent-kafka (millions of records)."""
    import uuid

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-read-{uuid.uuid4().hex[:8]}",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "enable.partition.eof": True, "fetch.max.bytes": 64 * 2**20})
    try:
        meta = c.list_topics(topic, timeout=30).topics[topic]
        parts = sorted(meta.partitions)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in parts}
        assign = [TopicPartition(topic, p, (start or {}).get(p, OFFSET_BEGINNING)) for p in parts]
        pending = {p for p in parts if ends[p] > (start or {}).get(p, 0)}
        c.assign(assign)
        while pending:
            for msg in c.consume(10_000, timeout=1.0):
                if msg.error():
                    if msg.error().code() == -191:  # _PARTITION_EOF
                        pending.discard(msg.partition())
                    continue
                yield msg.timestamp()[1], msg.key(), msg.value() if values else None
                if msg.offset() + 1 >= ends[msg.partition()]:
                    pending.discard(msg.partition())
    finally:
        c.close()


def topic_ends(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the end offset of ``topic`` now."""
    from tickflow.runtime.kafka_reading import end_offsets

    return end_offsets(bootstrap, topic)


def sustained_rate(stamped: list[tuple[int, int]]) -> tuple[float, float]:
    """(items/s, span s) of (Kafka timestamp ms, items) pairs: the items after the first record ÷ the time
    from the first record to the last (start-up excluded)."""
    stamped = sorted(stamped)
    if len(stamped) < 2:
        return 0.0, 0.0
    span_s = (stamped[-1][0] - stamped[0][0]) / 1000
    return sum(n for _, n in stamped[1:]) / max(span_s, 1e-9), span_s


class CheckpointSizes:
    """Samples, every ``every_s`` while a local run works (``with CheckpointSizes(s, names) as sizes:``), the
    job's latest completed checkpoint as its Prometheus metrics report it (``job_names``: the names its
    metrics may carry; the local run's reporter takes the first free port after the session cluster's,
    ``flink_runtime.local_metrics_ports``), with the records its consumer group had committed then
    (offsets are committed when a checkpoint completes).

    ``before_end(total)`` is the state when the input ends: after a bounded input ends, Flink's last
    checkpoints leave out the state of the tasks that have finished, so the latest is not the measure."""

    def __init__(self, s, job_names: tuple[str, ...], group_id: str | None = None, topic: str = "md.raw.trades",
                 every_s: float = 1.0) -> None:
        import threading

        self.s, self.job_names, self.group_id, self.topic, self.every_s = s, job_names, group_id, topic, every_s
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CheckpointSizes:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _metrics(self) -> dict[str, float]:
        import http.client
        import re
        import urllib.request

        wanted = ("lastCheckpointFullSize", "lastCheckpointSize", "numberOfCompletedCheckpoints",
                  "lastCheckpointDuration")
        for port in range(self.s.flink_metrics_port + 2, self.s.flink_metrics_port + 12):
            try:
                with urllib.request.urlopen(f"http://{self.s.host}:{port}/metrics", timeout=2) as resp:
                    text = resp.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):  # nothing there, or something that is not a reporter
                continue
            found = {}
            for line in text.splitlines():
                m = re.match(r"flink_jobmanager_job_(\w+)\{([^}]*)\} (\S+)", line)
                if m and m.group(1) in wanted and any(f'job_name="{n}"' in m.group(2) for n in self.job_names):
                    found[m.group(1)] = float(m.group(3))
            if found:
                return found
        return {}

    def _committed(self) -> int | None:
        if self.group_id is None:
            return None
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.s.kafka_bootstrap)
        try:
            offsets = admin.list_group_offsets(self.group_id).get(self.group_id, {})
            return sum(o.offset for tp, o in offsets.items() if tp.topic == self.topic and o.offset >= 0)
        except Exception:
            return None
        finally:
            admin.close()

    def _run(self) -> None:
        import time

        while not self._stop.wait(self.every_s):
            try:
                m = self._metrics()
            except Exception as exc:  # a sample lost is not a run lost
                print(f"checkpoint sampler: {exc}", file=sys.stderr)
                continue
            if m.get("numberOfCompletedCheckpoints", 0) >= 1 and m.get("lastCheckpointFullSize", -1) >= 0:
                self.samples.append({"t": time.time(), "full_bytes": int(m["lastCheckpointFullSize"]),
                                     "bytes": int(m.get("lastCheckpointSize", -1)),
                                     "completed": int(m["numberOfCompletedCheckpoints"]),
                                     "duration_ms": int(m.get("lastCheckpointDuration", -1)),
                                     "records_committed": self._committed()})

    def largest(self) -> dict | None:
        """The sample of the largest full checkpoint size, or None when no checkpoint completed."""
        return max(self.samples, key=lambda x: x["full_bytes"]) if self.samples else None

    def before_end(self, total: int) -> dict | None:
        """The state when the input ends: the sample of the checkpoint with the most records committed while
        some were still unread (fewer than ``total``: after a bounded input ends, the last checkpoints leave
        out the finished tasks' state); the largest when no sample knows its records."""
        known = [x for x in self.samples if x["records_committed"] is not None and x["records_committed"] < total]
        if not known:
            return self.largest()
        return max(known, key=lambda x: (x["records_committed"], x["completed"]))

    def series(self) -> list[list[int]]:
        """(records committed, full bytes) of each checkpoint sampled, once per checkpoint."""
        seen, out = set(), []
        for x in self.samples:
            if x["completed"] not in seen:
                seen.add(x["completed"])
                out.append([x["records_committed"], x["full_bytes"]])
        return out


def bar_increments(records) -> tuple[list[tuple[int, int]], dict[str, dict]]:
    """From md.bars records (timestamp, key, value): per 1m record the trades it adds to its bar (a revision
    re-emits the whole bar: only its new trades count) at its Kafka timestamp, and each 1m bar's last
    revision by key."""
    import json

    final: dict[str, dict] = {}
    stamped = []
    for ts, key, value in records:
        bar = json.loads(value)
        if bar["timeframe"] != "1m":
            continue
        k = key.decode()
        before = final.get(k)
        if before is not None and before["revision"] >= bar["revision"]:
            continue
        stamped.append((ts, bar["trade_count"] - (before["trade_count"] if before else 0)))
        final[k] = bar
    return stamped, final
