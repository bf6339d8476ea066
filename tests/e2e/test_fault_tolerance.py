"""Exactly-once, proven: while a multi-symbol workload of real ES trades with rejects of every kind flows
through the processor and the storage writer (parallelism 2 each), kill the TaskManager, kill the
JobManager, restart the Kafka broker, stop PostgreSQL for 30 s, stop the S3 endpoint for 30 s, or cancel
both jobs and start them again from their latest checkpoints. Afterwards every output must equal an
undisturbed run's: the last revision of every bar (md.bars read_committed, the bars table, the lake), the
trades table and the lake's trades row for row, and md.dlq as the multiset of (reason, original bytes).
Each scenario runs ``TICKFLOW_E2E_REPEAT`` times (default 3) and every run is recorded, pass or fail.

    make test-e2e        (see docs/fault_tolerance.md)
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.e2e.pipeline import (
    JOBS,
    NO_WATERMARK,
    PARALLELISM,
    SYMBOLS,
    Outputs,
    Run,
    bar_book_watermark,
    restarts,
    run_pipeline,
    workload,
)
from tests.integration.kafka_tools import committed_total
from tickflow import cluster, stack
from tickflow.processes import wait_until
from tickflow.runtime.config import PROJECT_ROOT

TRADES = int(os.environ.get("TICKFLOW_E2E_TRADES", "60000"))
RATE = float(os.environ.get("TICKFLOW_E2E_RATE", "3000"))     # records/s: ~20 s of flow
REPEAT = int(os.environ.get("TICKFLOW_E2E_REPEAT", "3"))
FAULT_AT = 0.4                                                   # share of the records sent before the fault
OUTAGE_S = 30
RESULTS = PROJECT_ROOT / "bench" / "results" / "fault_suite.jsonl"
SUITE_STARTED = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
ROUNDS = [pytest.param(n, id=f"run{n}") for n in range(1, REPEAT + 1)]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(scenario: str, round_: int, out: Outputs, equal: bool, difference: str = "") -> None:
    """Append one run to bench/results/fault_suite.jsonl, pass or fail (docs/fault_tolerance.md renders the
    latest suite from it with `bench/record.py --render-only`)."""
    line = {"suite": SUITE_STARTED, "scenario": scenario, "round": round_, "when": now(), "trades": TRADES,
            "rate": RATE, "symbols": SYMBOLS, "parallelism": PARALLELISM, "seconds": round(out.seconds),
            "bars_records": len(out.bars_topic), "revisions": revisions(out), "bars_rows": len(out.bars_table),
            "trade_rows": len(out.trades_table), "lake_rows": len(out.lake_bars) + len(out.lake_trades),
            "dead_letters": sum(out.dead_letters.values()),
            "dead_letters_by_reason": dict(sorted(Counter(r for (r, _), n in out.dead_letters.items()
                                                          for _ in range(n)).items())),
            "job_failures": out.restarts, "taskmanager_metaspace_mb": out.metaspace_mb,
            "equal_to_undisturbed": equal}
    if difference:
        line["difference"] = difference[:500]
    with open(RESULTS, "a") as f:
        f.write(json.dumps(line) + "\n")


def revisions(out: Outputs) -> int:
    return sum(1 for _, v in out.bars_topic if json.loads(v)["revision"] > 0)


@pytest.fixture(scope="module")
def trades(e2e_stack):
    from connectors.es_sample import es_sample_csv

    return workload(es_sample_csv(e2e_stack.cache_dir), TRADES)


@pytest.fixture(scope="module")
def undisturbed(e2e_stack, trades) -> Outputs:
    w, closing = trades
    out = run_pipeline(e2e_stack, "undisturbed", messages(trades), closes_at(trades), RATE)
    # the reference itself is whole: every valid trade is in one 1m bar, every reject dead-lettered with
    # its reason; LATE trades are archived too; the closing trades are archived, their own bars stay open
    finals = final_bars(out)
    minute_trades = Counter()
    for (symbol, timeframe, _), bar in finals.items():
        if timeframe == "1m":
            minute_trades[symbol] += bar["trade_count"]
    assert minute_trades == w.valid_per_symbol(), "each valid trade of each symbol in exactly one 1m bar"
    wanted = Counter((m.expect, m.value) for m in w.messages if m.expect is not None)
    assert out.dead_letters == wanted, "every reject on md.dlq once, with its reason and bytes"
    late = sum(1 for m in w.messages if m.expect == "LATE")
    assert len(out.trades_table) == sum(minute_trades.values()) + late + len(closing)
    assert len(out.lake_trades) == len(out.trades_table)
    assert {tf for (_, tf, _) in finals} == {"1m", "5m", "15m", "1h", "1d"}
    assert revision_order_holds(out)
    assert out.restarts == {job: 0 for job in JOBS}
    record("undisturbed", 0, out, True)
    return out


# --- comparison -------------------------------------------------------------------------------------

def final_bars(out: Outputs) -> dict[tuple, dict]:
    """The last record of every md.bars key, as a consumer of the compacted topic keeps it."""
    last: dict[tuple, dict] = {}
    for _, value in out.bars_topic:
        v = json.loads(value)
        last[(v["symbol"], v["timeframe"], v["bucket_start"])] = v
    return last


def without_revision(bar: dict) -> dict:
    return {k: v for k, v in bar.items() if k != "revision"}


def revision_order_holds(out: Outputs) -> bool:
    """Every key's records are revisions 0, 1, 2, … in the order a consumer reads them."""
    seen: dict[bytes, int] = {}
    for key, value in out.bars_topic:
        revision = json.loads(value)["revision"]
        if revision != seen.get(key, 0):
            return False
        seen[key] = revision + 1
    return True


def lake_finals(rows: list[dict]) -> dict[tuple, dict]:
    last: dict[tuple, dict] = {}
    for r in sorted(rows, key=lambda r: r["revision"]):
        last[(r["symbol"], r["timeframe"], r["bucket_start"])] = r
    return last


def compare(got: Outputs, want: Outputs) -> str:
    """'' when every output equals the undisturbed run's, else every difference found, '; '-separated.
    Which revisions a run emits may depend on timing (a trade read again after a restore can reach a bar
    after it was emitted); the last revision of every bar, the archives and the dead letters may not, and
    no transaction may be left open on an output topic once the jobs have ended."""
    found = []
    if got.open_transactions:
        found.append(f"transactions left open (partition: last stable offset, log end): {got.open_transactions}")
    if not revision_order_holds(got):
        found.append("md.bars: a key's revisions are not 0, 1, 2, … in order")
    g, w = final_bars(got), final_bars(want)
    if g.keys() != w.keys():
        extra = sorted(g.keys() - w.keys())
        found.append(f"md.bars keys: {len(extra)} extra, {len(w.keys() - g.keys())} missing"
                     + (f", e.g. extra {extra[0]}" if extra else ""))
    diff = [k for k in w.keys() & g.keys() if without_revision(g[k]) != without_revision(w[k])]
    if diff:
        found.append(f"md.bars: {len(diff)} bars differ in their last revision, e.g. {diff[0]}: {g[diff[0]]} vs "
                     f"{w[diff[0]]}")
    table = lambda t: {k: row[:11] + row[12:] for k, row in t.items()}  # noqa: E731 - all but revision
    if table(got.bars_table) != table(want.bars_table):
        found.append("bars table differs (apart from revision numbers)")
    if got.trades_table != want.trades_table:
        found.append(f"trades table: {len(got.trades_table)} rows vs {len(want.trades_table)}, or values differ")
    lake_g = {k: without_revision(v) for k, v in lake_finals(got.lake_bars).items()}
    lake_w = {k: without_revision(v) for k, v in lake_finals(want.lake_bars).items()}
    if lake_g != lake_w:
        found.append("lake bars differ in their last revisions")
    if got.lake_trades != want.lake_trades:
        found.append(f"lake trades: {len(got.lake_trades)} rows vs {len(want.lake_trades)}, or values differ")
    if got.dead_letters != want.dead_letters:
        extra, missing = got.dead_letters - want.dead_letters, want.dead_letters - got.dead_letters
        reasons = lambda c: dict(Counter(r for (r, _), n in c.items() for _ in range(n)))  # noqa: E731
        found.append(f"md.dlq: {sum(extra.values())} extra {reasons(extra)}, {sum(missing.values())} missing "
                     f"{reasons(missing)}")
    return "; ".join(found)


def check_and_record(scenario: str, round_: int, got: Outputs, want: Outputs) -> None:
    difference = compare(got, want)
    record(scenario, round_, got, not difference, difference)
    assert not difference, difference


# --- faults -----------------------------------------------------------------------------------------

def when_flowing(run: Run) -> None:
    """Wait until FAULT_AT of the records are out, the processor has checkpointed a fifth of them and has
    completed a checkpoint after its bar book's watermark was established (so the checkpoint a recovery
    starts from holds bars and a watermark: docs/fault_tolerance.md says why that matters), and the
    storage writer has checkpointed."""
    wait_until(lambda: run.publisher.progress() >= FAULT_AT, 300, f"{FAULT_AT:.0%} of the trades to be sent")
    share = len(run.publisher.messages) // 5
    wait_until(lambda: committed_total(run.s.kafka_bootstrap, run.group("market_data_processor"),
                                       "md.raw.trades") >= share, 300,
               "the processor to checkpoint a fifth of the records", interval=0.5)
    processor = run.job_ids["market_data_processor"]
    wait_until(lambda: bar_book_watermark(run.s, processor) > NO_WATERMARK, 120, "the bar book's first watermark")
    watermarked = (cluster.latest_checkpoint(run.s, processor) or (0, ""))[0] + 1
    wait_until(lambda: (cluster.latest_checkpoint(run.s, processor) or (0, ""))[0] >= watermarked, 120,
               "a processor checkpoint holding the watermark")
    def first_checkpoint(job_id: str) -> None:
        wait_until(lambda: cluster.latest_checkpoint(run.s, job_id) is not None, 120, "a first checkpoint")

    for job_id in run.job_ids.values():
        first_checkpoint(job_id)


def outage(run: Run, service: str, failed: Callable[[], bool], what: str) -> None:
    """Stop ``service``; once ``failed`` holds, leave it down OUTAGE_S more (a fixed time on purpose), then
    start it again."""
    stack.down(run.s, [service], log=lambda _: None)
    try:
        wait_until(failed, 180, what)
        time.sleep(OUTAGE_S)
    finally:
        stack.up(run.s, [service], log=lambda _: None)


def restarts_of(run: Run, job: str) -> int:
    return restarts(run.s, run.job_ids[job])


@pytest.mark.parametrize("round_", ROUNDS)
def test_killing_the_taskmanager_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed, round_):
    def kill_taskmanager(run: Run) -> None:
        when_flowing(run)
        victims = cluster.taskmanager_pids(run.s)
        assert victims, "no TaskManager to kill"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        # the supervisor starts a new TaskManager; both jobs fail over onto it from their checkpoints
        wait_until(lambda: all(restarts_of(run, j) >= 1 for j in JOBS), 180, "both jobs to restart")

    got = run_pipeline(e2e_stack, "kill-taskmanager", messages(trades), closes_at(trades), RATE, kill_taskmanager)
    assert all(n >= 1 for n in got.restarts.values()), got.restarts
    check_and_record("kill-taskmanager", round_, got, undisturbed)


@pytest.mark.parametrize("round_", ROUNDS)
def test_killing_the_jobmanager_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed, round_):
    def kill_jobmanager(run: Run) -> None:
        when_flowing(run)
        cluster.kill_jobmanager(run.s)
        # a new JobManager takes the leadership over from ZooKeeper and recovers both jobs from their
        # latest checkpoints (the job graphs and checkpoint pointers are in its HA storage)
        cluster.start_jobmanager(run.s)

        def recovered(job: str) -> None:
            wait_until(lambda: cluster.tasks_running(run.s, run.job_ids[job]), 300, f"{job} to be recovered")

        for job in JOBS:
            recovered(job)

    got = run_pipeline(e2e_stack, "kill-jobmanager", messages(trades), closes_at(trades), RATE, kill_jobmanager)
    check_and_record("kill-jobmanager", round_, got, undisturbed)


@pytest.mark.parametrize("round_", ROUNDS)
def test_restarting_the_kafka_broker_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed, round_):
    def restart_broker(run: Run) -> None:
        when_flowing(run)
        before = stack.service(run.s, "kafka").process.pid()
        stack.down(run.s, ["kafka"], log=lambda _: None)
        stack.up(run.s, ["kafka"], log=lambda _: None)
        assert stack.service(run.s, "kafka").process.pid() not in (None, before)

    got = run_pipeline(e2e_stack, "restart-kafka", messages(trades), closes_at(trades), RATE, restart_broker)
    check_and_record("restart-kafka", round_, got, undisturbed)


@pytest.mark.parametrize("round_", ROUNDS)
def test_stopping_postgresql_for_30s_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed, round_):
    def stop_database(run: Run) -> None:
        when_flowing(run)
        # the writer's JDBC sinks fail against the stopped database and the job restarts (with back-off)
        # until it is back
        outage(run, "postgres", lambda: restarts_of(run, "storage_writer") >= 1, "the writer to fail")

    got = run_pipeline(e2e_stack, "stop-postgres", messages(trades), closes_at(trades), RATE, stop_database)
    assert got.restarts["storage_writer"] >= 1
    check_and_record("stop-postgres", round_, got, undisturbed)


@pytest.mark.parametrize("round_", ROUNDS)
def test_stopping_the_s3_endpoint_for_30s_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed, round_):
    def stop_s3(run: Run) -> None:
        when_flowing(run)
        # checkpoints (on S3) fail and the lake writer cannot write: the jobs fail and restart with back-off
        # until the endpoint is back, then restore their latest checkpoint from it
        outage(run, "s3", lambda: any(restarts_of(run, j) >= 1 for j in JOBS), "a job to fail")

    got = run_pipeline(e2e_stack, "stop-s3", messages(trades), closes_at(trades), RATE, stop_s3)
    check_and_record("stop-s3", round_, got, undisturbed)


@pytest.mark.parametrize("round_", ROUNDS)
def test_cancelling_and_restarting_from_the_latest_checkpoint_loses_and_duplicates_nothing(
        e2e_stack, trades, undisturbed, round_):
    resumed: dict[str, int] = {}

    def cancel_and_resume(run: Run) -> None:
        when_flowing(run)
        for job in JOBS:
            old = run.job_ids[job]
            cluster.cancel(run.s, old)
            checkpoint_id, path = cluster.latest_checkpoint(run.s, old)
            resumed[job] = checkpoint_id
            run.submit(job, from_checkpoint=path)
            restored = cluster.rest(run.s, f"/jobs/{run.job_ids[job]}/checkpoints").get("latest", {}).get("restored")
            assert restored and restored.get("id") == checkpoint_id, restored

    got = run_pipeline(e2e_stack, "cancel-restore", messages(trades), closes_at(trades), RATE, cancel_and_resume)
    assert set(resumed) == set(JOBS)
    check_and_record("cancel-restore", round_, got, undisturbed)


def messages(trades) -> list[tuple[bytes, bytes]]:
    w, closing = trades
    return [(m.key, m.value) for m in w.messages + closing]


def closes_at(trades) -> int:
    _, closing = trades
    return min(json.loads(m.value)["ts_event"] for m in closing)
