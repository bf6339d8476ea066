"""The CLI's bad-input contract: one line on stderr, non-zero exit."""
import json
import os
import subprocess
import sys

from tickflow.processes import port_open


def tickflow(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tickflow.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def one_line(stderr: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_unknown_subcommand():
    r = tickflow("frobnicate")
    assert r.returncode == 2
    assert "invalid choice: 'frobnicate'" in one_line(r.stderr)


def test_unknown_flag():
    r = tickflow("replay", "--speeed", "2")
    assert r.returncode == 2
    assert "unrecognized arguments: --speeed" in one_line(r.stderr)


def test_unknown_job():
    r = tickflow("run", "no_such_job")
    assert r.returncode == 2
    assert "unknown job 'no_such_job'" in one_line(r.stderr)


def test_replay_of_missing_file(tmp_path):
    r = tickflow("replay", "--file", str(tmp_path / "nope.csv"))
    assert r.returncode == 1
    assert "no such file" in one_line(r.stderr)


def test_replay_to_unreachable_broker(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n")
    assert not port_open("127.0.0.1", 1)
    r = tickflow("replay", "--file", str(csv), "--bootstrap", "127.0.0.1:1")
    assert r.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in one_line(r.stderr)


def test_bad_setting_in_environment():
    import os

    r = tickflow("stack", "status", env={**os.environ, "TICKFLOW_KAFKA_PORT": "ninety"})
    assert r.returncode == 2
    assert "TICKFLOW_KAFKA_PORT" in one_line(r.stderr)


def test_submit_without_cluster(tmp_path):
    import os

    r = tickflow("submit", "trade_passthrough", env={**os.environ, "TICKFLOW_FLINK_REST_PORT": "1",
                                                     "TICKFLOW_HOME": str(tmp_path)})
    assert r.returncode == 1
    assert "no Flink cluster at http://127.0.0.1:1" in one_line(r.stderr)


def test_job_given_a_wrong_flag():
    r = tickflow("run", "market_data_processor", "--allowed-lateness", "x")
    assert r.returncode == 2
    assert "market_data_processor: error:" in one_line(r.stderr)


def test_a_bounded_run_against_an_unreachable_broker():
    assert not port_open("127.0.0.1", 1)
    r = tickflow("run", "trade_passthrough", "--bounded", "--bootstrap", "127.0.0.1:1")
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert line.startswith("tickflow: run: cannot read the end offsets of md.raw.trades at Kafka 127.0.0.1:1")
    assert "Unable to bootstrap" in line


def test_db_against_an_unreachable_database():
    r = tickflow("db", "migrate", "--dsn", "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2")
    assert r.returncode == 1
    assert one_line(r.stderr).startswith("tickflow: db: cannot reach PostgreSQL (")


def test_storage_writer_against_an_unreachable_database_says_so_before_starting():
    r = tickflow("run", "storage_writer", "--bounded", env={**os.environ, "TICKFLOW_POSTGRES_PORT": "1"})
    assert r.returncode == 1
    line = one_line(r.stderr)
    assert line.startswith("tickflow: storage_writer writes to PostgreSQL: cannot reach PostgreSQL (")
    assert line.endswith("(or pass --no-db)")


def test_version_and_config_answer_without_any_service():
    r = tickflow("--version")
    assert r.returncode == 0 and r.stdout.startswith("tickflow ")
    r = tickflow("config", "--json", env={**os.environ, "TICKFLOW_S3_SECRET_KEY": "not-to-be-shown"})
    assert r.returncode == 0 and "not-to-be-shown" not in r.stdout
    rows = {row["setting"]: row for row in json.loads(r.stdout)}
    assert rows["TICKFLOW_S3_SECRET_KEY"]["from"] == "environment"


def test_stack_status_as_json_on_a_stack_that_is_not_running(tmp_path):
    from tickflow.runtime.config import shifted_stack_env

    env = {**os.environ, **shifted_stack_env(50000, "status-probe"), "TICKFLOW_HOME": str(tmp_path)}
    r = tickflow("stack", "status", "--json", env=env)
    assert r.returncode == 3, r.stderr
    rows = json.loads(r.stdout)
    assert [row["service"] for row in rows][:3] == ["kafka", "postgres", "s3"]
    assert all(row["state"] == "stopped" for row in rows)


def test_query_of_a_range_without_its_bounds():
    r = tickflow("query", "bars", "--symbol", "ES")
    assert r.returncode == 2
    assert "query bars: --from, --to required" in one_line(r.stderr)


def test_storage_writer_with_nothing_to_write():
    r = tickflow("run", "storage_writer", "--no-db", "--no-lake")
    assert r.returncode == 2
    assert "--no-db and --no-lake leave nothing to write" in one_line(r.stderr)


def test_jobs_savepoint_and_cancel_without_cluster(tmp_path):
    import os

    env = {**os.environ, "TICKFLOW_FLINK_REST_PORT": "1", "TICKFLOW_HOME": str(tmp_path)}
    for args in (("jobs",), ("savepoint", "indicators"), ("cancel", "indicators")):
        r = tickflow(*args, env=env)
        assert r.returncode == 1
        assert "no Flink cluster at http://127.0.0.1:1 (start it with `tickflow cluster up`)" in one_line(r.stderr)


def test_cancel_of_something_that_is_not_a_job():
    r = tickflow("cancel", "nope")
    assert r.returncode == 1
    assert "'nope' is neither a job" in one_line(r.stderr)


def test_connect_to_unreachable_broker():
    r = tickflow("connect", "polygon", "--symbols", "ES", "--bootstrap", "127.0.0.1:1", "--health-port", "0")
    assert r.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in one_line(r.stderr)


def test_connect_delivery_flags_are_checked():
    r = tickflow("connect", "polygon", "--symbols", "ES", "--max-undelivered", "many")
    assert r.returncode == 2
    assert "--max-undelivered: invalid int value" in one_line(r.stderr)


def test_a_savepoint_with_state_of_a_removed_operator_restores_only_when_asked(monkeypatch):
    from tickflow import cluster
    from tickflow.runtime import config

    seen: list[list[str]] = []

    class Ran:
        returncode, stdout, stderr = 0, "Job has been submitted with JobID " + "a" * 32, ""

    monkeypatch.setattr(cluster, "rest", lambda *a, **k: {})
    monkeypatch.setattr(cluster.subprocess, "run", lambda argv, **k: seen.append(argv) or Ran())
    s = config.load()
    cluster.submit(s, "indicators", [], savepoint="s3://b/sp-1")
    cluster.submit(s, "indicators", [], savepoint="s3://b/sp-1", allow_non_restored=True)
    assert "-n" not in seen[0] and seen[0][seen[0].index("-s") + 1] == "s3://b/sp-1"
    assert seen[1][seen[1].index("-s") + 2] == "-n"
