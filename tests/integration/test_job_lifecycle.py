"""A job's life on the session cluster through the CLI: submit → running → savepoint → cancel, each state
as the web UI's REST API reports it (the same steps the Kubernetes operator takes with savepoint upgrades)."""
from __future__ import annotations

import json
from urllib.parse import urlparse

from tests.integration.job_cli import cli
from tickflow import cluster, stack
from tickflow.processes import wait_until


def test_submit_savepoint_cancel_round_trip_through_the_cli(running_stack):
    s = running_stack
    assert cluster.up(s).startswith(("running", "already running"))
    submitted = cli("submit", "trade_passthrough")
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    job_id = cluster.running_job(s, "trade-passthrough")
    wait_until(lambda: cluster.job_state(s, job_id) == "RUNNING", 120, "the job to run")
    listing = cli("jobs")
    assert listing.returncode == 0
    assert any(line.startswith(job_id) and "RUNNING" in line and "trade-passthrough" in line
               for line in listing.stdout.splitlines()), listing.stdout
    as_json = {j["id"]: j for j in json.loads(cli("jobs", "--json").stdout)}
    assert as_json[job_id]["state"] == "RUNNING" and as_json[job_id]["name"] == "trade-passthrough"

    taken = cli("savepoint", "trade_passthrough")
    assert taken.returncode == 0, taken.stderr[-2000:]
    location = taken.stdout.strip().splitlines()[-1]
    assert location.startswith(f"s3://{s.s3_bucket}/flink/savepoints/")
    key = urlparse(location).path.lstrip("/") + "/_metadata"
    assert stack.s3_client(s).head_object(Bucket=s.s3_bucket, Key=key)["ContentLength"] > 0
    assert cluster.job_state(s, job_id) == "RUNNING", "a savepoint leaves the job running"

    cancelled = cli("cancel", job_id)
    assert cancelled.returncode == 0, cancelled.stderr[-2000:]
    assert cluster.job_state(s, job_id) == "CANCELED"
    assert any(line.startswith(job_id) and "CANCELED" in line for line in cli("jobs").stdout.splitlines())

    again = cli("cancel", "trade_passthrough")
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "no running job named 'trade-passthrough'" in again.stderr
