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


def run_bounded(job: str, *args: str) -> float | None:
    """`tickflow run JOB --bounded` in a local MiniCluster; its wall time in seconds, or None (its error
    printed) when it failed."""
    import subprocess
    import time

    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "tickflow.cli", "run", job, "--bounded", *args],
                         capture_output=True, text=True)
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
