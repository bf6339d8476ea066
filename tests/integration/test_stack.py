"""The local stack against real Kafka, PostgreSQL and s3proxy processes."""
import dataclasses
import subprocess
import sys

import psycopg2
import pytest

from tickflow import stack
from tickflow.processes import StackError, alive
from tickflow.topics import describe_topics, load_registry


def test_second_up_reports_the_running_stack_without_restarting(running_stack):
    before = {name: state for name, state, _ in stack.status(running_stack)}
    lines: list[str] = []
    stack.up(running_stack, log=lines.append)
    after = {name: state for name, state, _ in stack.status(running_stack)}
    assert before == after and all(state.startswith("running (pid") for state in after.values())
    assert sum("already running" in l for l in lines) == 3


def test_status_command_lists_every_service_running(running_stack):
    r = subprocess.run([sys.executable, "-m", "tickflow.cli", "stack", "status"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("kafka", "postgres", "s3"):
        assert any(line.startswith(name) and "running" in line for line in r.stdout.splitlines())


def test_topics_exist_with_declared_partitions_and_configs(running_stack):
    specs = load_registry()
    actual = describe_topics(running_stack.kafka_bootstrap, list(specs))
    for name, spec in specs.items():
        assert actual[name]["partitions"] == spec.partitions, name
        for key, value in spec.config.items():
            assert actual[name]["config"][key] == value, (name, key)


def test_postgres_and_s3_answer_with_the_configured_credentials(running_stack):
    with psycopg2.connect(running_stack.postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database()")
        assert cur.fetchone() == ("tickflow", "tickflow")
    client = stack.s3_client(running_stack)
    client.put_object(Bucket=running_stack.s3_bucket, Key="probe/hello.txt", Body=b"hi")
    assert client.get_object(Bucket=running_stack.s3_bucket, Key="probe/hello.txt")["Body"].read() == b"hi"


def test_taken_port_is_named_with_its_process(running_stack, tmp_path):
    kafka_pid = next(int(st.split("pid ")[1].rstrip(")")) for n, st, _ in stack.status(running_stack) if n == "kafka")
    other = dataclasses.replace(running_stack, home=tmp_path)
    with pytest.raises(StackError, match=rf"port {running_stack.kafka_port} needed by kafka is taken by pid {kafka_pid} "):
        stack.up(other, ["kafka"], log=lambda _: None)


def test_up_down_cycle_is_idempotent_and_stops_only_its_own_process(running_stack, tmp_path):
    own = dataclasses.replace(running_stack, home=tmp_path, s3_port=running_stack.s3_port + 100)
    lines: list[str] = []
    stack.up(own, ["s3"], log=lines.append)
    pid = stack.service(own, "s3").process.pid()
    assert pid and "started" in lines[-1]
    stack.up(own, ["s3"], log=lines.append)
    assert "already running" in lines[-1] and stack.service(own, "s3").process.pid() == pid
    stack.down(own, ["s3"], log=lines.append)
    assert lines[-1].endswith("stopped") and not alive(pid)
    stack.down(own, ["s3"], log=lines.append)
    assert lines[-1].endswith("was not running")
    assert stack.status(own, ["s3"])[0][1] == "stopped"
    # the session's own s3 endpoint was not touched
    assert stack.status(running_stack, ["s3"])[0][1].startswith("running")


def test_kafka_storage_format_takes_a_cluster_id_that_starts_with_a_dash(tmp_path, settings):
    """Random ids are URL-safe base64, so 1 in 64 starts with "-"; formatting must still work."""
    props = tmp_path / "server.properties"
    props.write_text("\n".join([
        "process.roles=broker,controller", "node.id=1", "controller.quorum.voters=1@127.0.0.1:1",
        "listeners=PLAINTEXT://127.0.0.1:2,CONTROLLER://127.0.0.1:1", "controller.listener.names=CONTROLLER",
        f"log.dirs={tmp_path / 'logs'}", ""]))
    cp = ":".join(str(p) for p in sorted((settings.jars / "kafka-broker").glob("*.jar")))
    out = subprocess.run([stack._java(), "-cp", cp, *stack.kafka_format_args("-dashFirst0123456789ab", props)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert "cluster.id=-dashFirst0123456789ab" in (tmp_path / "logs" / "meta.properties").read_text()


def test_group_positions_are_the_commit_or_the_topic_start_and_commits_only_move_forward(running_stack):
    """The demo counts what a job's group has yet to read from these positions. A finished bounded run's
    group is committed through the ends its topics had before it started (bounded_read, by commit_forward):
    never back, not past records that came during the run, and not at all when the run failed."""
    import uuid

    from kafka.admin import KafkaAdminClient, NewTopic

    from tests.integration.kafka_tools import publish
    from tickflow.kafka_reading import bounded_read, commit_forward, group_positions

    bootstrap = running_stack.kafka_bootstrap
    topic, group = f"test.positions-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 2, 1)])
        publish(bootstrap, [(topic, b"k", b"%d" % i, i % 2) for i in range(10)])
        assert group_positions(bootstrap, topic, group) == {0: 0, 1: 0}
        commit_forward(bootstrap, topic, group, {0: 3})
        assert group_positions(bootstrap, topic, group) == {0: 3, 1: 0}
        commit_forward(bootstrap, topic, group, {0: 2, 1: 4})
        assert group_positions(bootstrap, topic, group) == {0: 3, 1: 4}
        with pytest.raises(ZeroDivisionError), bounded_read(bootstrap, group, [topic]):
            raise ZeroDivisionError("the run failed")
        assert group_positions(bootstrap, topic, group) == {0: 3, 1: 4}
        with bounded_read(bootstrap, group, [topic]):
            publish(bootstrap, [(topic, b"k", b"during the run", 0)])
        assert group_positions(bootstrap, topic, group) == {0: 5, 1: 5}
    finally:
        admin.delete_topics([topic])
        admin.close()
