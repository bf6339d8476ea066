"""Real data through the whole foundation: the ES replay into Kafka, the first job in a MiniCluster and
on the session cluster, read back with read_committed."""
import json
import subprocess
import sys
from decimal import Decimal

import pytest

from connectors.es_sample import ROWS, es_sample_csv
from jobs.trade_passthrough import GROUP_ID
from tickflow import cluster
from tickflow.processes import wait_until
from tickflow.runtime.kafka_reading import end_offsets, group_positions, read_to_end

RAW, PARSED = "md.raw.trades", "md.trades.parsed"


def tickflow(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "tickflow.cli", *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def row(value: dict) -> int:
    """A replayed CSV trade's row in its file (1 = the first after the header): its trade_id is
    "<file digest>:<line>", the line counting the header."""
    return int(value["trade_id"].rsplit(":", 1)[1]) - 1


@pytest.fixture(scope="module")
def es_replayed(running_stack):
    before = end_offsets(running_stack.kafka_bootstrap, RAW)
    out = tickflow("replay")
    assert "published 500000 trades" in out.stdout and "skipped 0 malformed rows" in out.stdout
    return before


@pytest.fixture(scope="module")
def passthrough_ran(running_stack, es_replayed):
    before = end_offsets(running_stack.kafka_bootstrap, PARSED)
    tickflow("run", "trade_passthrough", "--bounded")
    return before


def test_replay_delivers_exactly_the_500000_real_es_trades(running_stack, es_replayed):
    rows, seqs = [], set()
    for rec in read_to_end(running_stack.kafka_bootstrap, RAW, es_replayed):
        value = json.loads(rec.value)
        assert rec.key == b"ES"
        rows.append(row(value))
        seqs.add(value["seq"])
        if rows[-1] == 1:
            assert value["ts_event"] == 1378072800083000000 and value["price"] == "1640.25"
    assert sorted(rows) == list(range(1, ROWS + 1))
    assert len(seqs) == ROWS, "every trade a seq of its own"


def test_first_job_moves_every_record_once_with_exact_decimals(running_stack, es_replayed, passthrough_ran):
    source_prices = {}
    with open(es_sample_csv(running_stack.cache_dir)) as f:
        next(f)
        for n, line in enumerate(f, start=1):
            _, price, size = line.rstrip("\n").split(",")
            source_prices[n] = (Decimal(price), Decimal(size))
    seen = set()
    for rec in read_to_end(running_stack.kafka_bootstrap, PARSED, passthrough_ran):
        value = json.loads(rec.value)
        assert rec.key == b"replay|ES"
        assert row(value) not in seen, f"row {row(value)} twice"
        seen.add(row(value))
        assert (Decimal(value["price"]), Decimal(value["size"])) == source_prices[row(value)]
    assert len(seen) == ROWS, f"lost {ROWS - len(seen)} records"


def test_a_bounded_run_leaves_its_group_where_it_ended(running_stack, passthrough_ran, tmp_path):
    """Once a bounded run has finished, its group stands at the ends its topics had when it started, so
    the next run moves only what came since. (Flink's own last commit of a bounded run can be lost — seen
    on the session cluster — so `tickflow run --bounded` commits the group itself: test_stack.py checks
    that commit on its own.)"""
    s = running_stack
    assert group_positions(s.kafka_bootstrap, RAW, GROUP_ID) == end_offsets(s.kafka_bootstrap, RAW)
    csv = tmp_path / "three.csv"
    csv.write_text("DateTime,Price,Volume\n" + "".join(
        f"2013-09-03 08:31:{i:02d}.000,1651.25,{i + 1}\n" for i in range(3)))
    tickflow("replay", "--file", str(csv), "--source", "rerun-test")
    moved = []
    for _ in range(2):
        before = end_offsets(s.kafka_bootstrap, PARSED)
        tickflow("run", "trade_passthrough", "--bounded")
        moved.append(sorted(row(json.loads(r.value)) for r in read_to_end(s.kafka_bootstrap, PARSED, before)))
        assert group_positions(s.kafka_bootstrap, RAW, GROUP_ID) == end_offsets(s.kafka_bootstrap, RAW)
    assert moved == [[1, 2, 3], []]


def test_session_cluster_runs_a_submitted_job_with_checkpoints_on_s3(running_stack, passthrough_ran, tmp_path):
    s = running_stack
    csv = tmp_path / "ten.csv"
    csv.write_text("DateTime,Price,Volume\n" + "".join(
        f"2013-09-03 08:30:{i:02d}.000,1650.{25 * (i % 4):02d},{i + 1}\n" for i in range(10)))
    before = end_offsets(s.kafka_bootstrap, PARSED)
    tickflow("replay", "--file", str(csv), "--source", "cluster-test")
    assert cluster.up(s).startswith(("running", "already running"))
    job_id = cluster.submit(s, "trade_passthrough", ["--bounded"])
    wait_until(lambda: cluster.job_state(s, job_id) in ("FINISHED", "FAILED", "CANCELED"), 300, "job end", 1.0)
    assert cluster.job_state(s, job_id) == "FINISHED"
    moved = [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, PARSED, before)]
    assert sorted(row(m) for m in moved) == list(range(1, 11))
    assert {m["source"] for m in moved} == {"cluster-test"}
    # the transactions above were committed by checkpoints, and those were written to the S3 endpoint
    checkpoints = cluster.rest(s, f"/jobs/{job_id}/checkpoints")
    assert checkpoints["counts"]["completed"] >= 1
    assert checkpoints["latest"]["completed"]["external_path"].startswith(f"s3://{s.s3_bucket}/flink/checkpoints/{job_id}/")
    from tickflow.stack import s3_client

    keys = [o["Key"] for o in s3_client(s).list_objects_v2(
        Bucket=s.s3_bucket, Prefix=f"flink/checkpoints/{job_id}/").get("Contents", [])]
    assert keys, "nothing was written under the job's checkpoint directory on S3"
