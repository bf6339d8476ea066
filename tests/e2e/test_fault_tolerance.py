"""Exactly-once, proven: while the real ES trades flow through the processor and the storage writer, kill
the TaskManager, restart the Kafka broker, stop PostgreSQL for 30 s, or cancel both jobs and start them
again from their latest checkpoints. Afterwards md.bars (read_committed), the bars and trades tables and
the lake must equal those of an undisturbed run exactly: no gap, no duplicate, no changed value.

    make test-e2e        (about 15 minutes; not part of `make test`, see docs/fault_tolerance.md)
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from datetime import datetime, timezone

import pytest

from tests.e2e.pipeline import JOBS, Outputs, Run, es_trades, run_pipeline
from tickflow import cluster, stack
from tickflow.config import PROJECT_ROOT
from tickflow.processes import wait_until

TRADES = int(os.environ.get("TICKFLOW_E2E_TRADES", "150000"))
RATE = float(os.environ.get("TICKFLOW_E2E_RATE", "3000"))     # trades/s: ~50 s of flow
FAULT_AT = 0.4                                                   # share of the trades sent before the fault
OUTAGE_S = 30
RESULTS = PROJECT_ROOT / "bench" / "results" / "fault_suite.jsonl"
SUITE_STARTED = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(scenario: str, out: Outputs) -> None:
    """Append a scenario that passed to bench/results/fault_suite.jsonl (docs/fault_tolerance.md renders
    the latest suite run from it with `bench/record.py --render-only`)."""
    line = {"suite": SUITE_STARTED, "scenario": scenario, "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "trades": TRADES, "rate": RATE, "seconds": round(out.seconds), "bars_records": len(out.bars_topic),
            "bars_rows": len(out.bars_table), "trade_rows": len(out.trades_table),
            "lake_rows": len(out.lake_bars) + len(out.lake_trades), "dead_letters": out.dead_letters,
            "job_failures": out.restarts, "equal_to_undisturbed": True}
    with open(RESULTS, "a") as f:
        f.write(json.dumps(line) + "\n")


@pytest.fixture(scope="module")
def trades(e2e_stack):
    from connectors.es_sample import es_sample_csv

    return es_trades(es_sample_csv(e2e_stack.cache_dir), TRADES)


@pytest.fixture(scope="module")
def undisturbed(e2e_stack, trades) -> Outputs:
    out = run_pipeline(e2e_stack, "undisturbed", trades, RATE)
    # the reference itself is whole: every trade is in a 1m bar or dead-lettered, each bar once per
    # revision; the closing trade is archived, its own bars stay open
    minute_trades = sum(row[10] for row in out.bars_table.values() if row[1] == "1m")
    assert minute_trades + out.dead_letters == TRADES
    assert len(out.trades_table) == minute_trades + 1
    assert len(out.lake_trades) == len(out.trades_table)
    assert {row[1] for row in out.bars_table.values()} == {"1m", "5m", "15m", "1h", "1d"}
    assert not [k for k, n in Counter(out.bars_topic).items() if n > 1], "a bar record twice on md.bars"
    assert out.restarts == {job: 0 for job in JOBS}
    record("undisturbed", out)
    return out


def assert_same(got: Outputs, want: Outputs) -> None:
    """Every output equal to the undisturbed run's; on a difference, say where and how big."""
    assert len(got.bars_topic) == len(want.bars_topic), "md.bars record count"
    assert Counter(got.bars_topic) == Counter(want.bars_topic), "md.bars records differ"
    per_key = lambda recs: {k: [v for kk, v in recs if kk == k] for k in {k for k, _ in recs}}  # noqa: E731
    assert per_key(got.bars_topic) == per_key(want.bars_topic), "md.bars revisions out of order"
    assert got.bars_table == want.bars_table, "bars table"
    assert len(got.trades_table) == len(want.trades_table), "trades table row count"
    assert got.trades_table == want.trades_table, "trades table rows"
    assert got.lake_bars == want.lake_bars, "lake bars"
    assert len(got.lake_trades) == len(want.lake_trades), "lake trades row count"
    assert got.lake_trades == want.lake_trades, "lake trades rows"
    assert got.dead_letters == want.dead_letters, "dead letters"


def when_flowing(run: Run) -> None:
    """Wait until FAULT_AT of the trades are out and both jobs have checkpointed since the start."""
    wait_until(lambda: run.publisher.progress() >= FAULT_AT, 300, f"{FAULT_AT:.0%} of the trades to be sent")
    for job_id in run.job_ids.values():
        wait_until(lambda: cluster.latest_checkpoint(run.s, job_id) is not None, 120, "a first checkpoint")


def test_killing_the_taskmanager_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed):
    def kill_taskmanager(run: Run) -> None:
        when_flowing(run)
        victims = cluster.taskmanager_pids(run.s)
        assert victims, "no TaskManager to kill"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        # the supervisor starts a new TaskManager; both jobs fail over onto it from their checkpoints
        wait_until(lambda: all(restarts_of(run, j) >= 1 for j in JOBS), 180, "both jobs to restart")

    got = run_pipeline(e2e_stack, "kill-taskmanager", trades, RATE, kill_taskmanager)
    assert all(n >= 1 for n in got.restarts.values()), got.restarts
    assert_same(got, undisturbed)
    record("kill-taskmanager", got)


def test_restarting_the_kafka_broker_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed):
    def restart_broker(run: Run) -> None:
        when_flowing(run)
        before = stack.service(run.s, "kafka").process.pid()
        stack.down(run.s, ["kafka"], log=lambda _: None)
        stack.up(run.s, ["kafka"], log=lambda _: None)
        assert stack.service(run.s, "kafka").process.pid() not in (None, before)

    got = run_pipeline(e2e_stack, "restart-kafka", trades, RATE, restart_broker)
    assert_same(got, undisturbed)
    record("restart-kafka", got)


def test_stopping_postgresql_for_30s_loses_and_duplicates_nothing(e2e_stack, trades, undisturbed):
    def stop_database(run: Run) -> None:
        when_flowing(run)
        stack.down(run.s, ["postgres"], log=lambda _: None)
        try:
            # the writer's JDBC sinks fail against the stopped database and the job restarts (with
            # back-off) until it is back; the outage lasts a fixed time on purpose
            wait_until(lambda: restarts_of(run, "storage_writer") >= 1, 120, "the writer to fail")
            time.sleep(OUTAGE_S)
        finally:
            stack.up(run.s, ["postgres"], log=lambda _: None)

    got = run_pipeline(e2e_stack, "stop-postgres", trades, RATE, stop_database)
    assert got.restarts["storage_writer"] >= 1
    assert_same(got, undisturbed)
    record("stop-postgres", got)


def test_cancelling_and_restarting_from_the_latest_checkpoint_loses_and_duplicates_nothing(
        e2e_stack, trades, undisturbed):
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

    got = run_pipeline(e2e_stack, "cancel-restore", trades, RATE, cancel_and_resume)
    assert set(resumed) == set(JOBS)
    assert_same(got, undisturbed)
    record("cancel-restore", got)


def restarts_of(run: Run, job: str) -> int:
    from tests.e2e.pipeline import restarts

    return restarts(run.s, run.job_ids[job])
