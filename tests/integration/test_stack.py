"""The local stack against real Kafka, PostgreSQL and s3proxy processes."""
import dataclasses
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys

import psycopg2
import pytest

from tickflow import stack
from tickflow.processes import StackError, alive, wait_until
from tickflow.topics import describe_topics, load_registry


def test_second_up_reports_the_running_stack_without_restarting(running_stack):
    before = {name: state for name, state, _ in stack.status(running_stack)}
    lines: list[str] = []
    stack.up(running_stack, log=lines.append)
    after = {name: state for name, state, _ in stack.status(running_stack)}
    assert before == after and all(state.startswith("running (pid") for state in after.values())
    assert sum("already running" in l for l in lines) == len(stack.services(running_stack))


def test_status_command_lists_every_service_running(running_stack):
    r = subprocess.run([sys.executable, "-m", "tickflow.cli", "stack", "status"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("kafka", "postgres", "s3", "prometheus"):
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
    taken = rf"port {running_stack.kafka_port} needed by kafka is taken by pid {kafka_pid} "
    with pytest.raises(StackError, match=taken):
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
    from tickflow.runtime.kafka_reading import (
        bounded_read,
        commit_forward,
        group_positions,
    )

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


def test_the_broker_runs_with_the_transaction_maximum_the_sinks_need(running_stack):
    """Kafka's default (15 min) would refuse the sinks' 30 min transactions when a job starts."""
    from confluent_kafka.admin import (  # kafka-python lists no broker configs
        AdminClient,
        ConfigResource,
    )

    admin = AdminClient({"bootstrap.servers": running_stack.kafka_bootstrap})
    [described] = admin.describe_configs([ConfigResource("BROKER", "1")]).values()
    entries = described.result(timeout=30)
    assert int(entries["transaction.max.timeout.ms"].value) == stack.KAFKA_TRANSACTION_MAX_TIMEOUT_MS


def test_a_broker_started_by_an_older_version_is_restarted_on_up_and_keeps_its_topics(running_stack):
    kafka = stack.service(running_stack, "kafka")
    props = running_stack.home / "kafka" / "server.properties"
    props.write_text(props.read_text().replace(f"={stack.KAFKA_TRANSACTION_MAX_TIMEOUT_MS}", "=900000"))
    before = kafka.process.pid()
    lines: list[str] = []
    stack.up(running_stack, ["kafka"], log=lines.append)
    assert lines[0] == f"kafka     restarting (pid {before}): its server.properties is an older version's"
    assert "started" in lines[1] and kafka.process.pid() not in (None, before) and not alive(before)
    assert props.read_text() == stack.kafka_properties(running_stack)
    specs = load_registry()
    assert all(t["partitions"] == specs[n].partitions
               for n, t in describe_topics(running_stack.kafka_bootstrap, list(specs)).items())


# --- the local PostgreSQL's socket: private to the stack's user, a password for everyone else ----------------

OLD_PG_HBA = ("local all all trust\n"                       # what stacks wrote before: any local user, any role
              "host all all 127.0.0.1/32 scram-sha-256\n"
              "host all all ::1/128 scram-sha-256\n")


def socket_login(s, password: str | None, user: str = "tickflow") -> str:
    """Log in over the stack's Unix socket: "ok", or the server's refusal (first line)."""
    args = {"host": str(s.home / "postgres-socket"), "port": s.postgres_port, "user": user, "dbname": "postgres",
            "connect_timeout": 3, "passfile": "/dev/null"}
    if password is not None:
        args["password"] = password
    try:
        psycopg2.connect(**args).close()
        return "ok"
    except psycopg2.OperationalError as e:
        return str(e).strip().splitlines()[-1]


def psql_as(os_user: str, s) -> subprocess.CompletedProcess:
    """The superuser over the socket, as another OS user (only root can be another user)."""
    return subprocess.run([str(stack.postgres_bindir() / "psql"), "-h", str(s.home / "postgres-socket"),
                           "-p", str(s.postgres_port), "-U", "postgres", "-d", "postgres", "-tAc", "SELECT 1"],
                          capture_output=True, text=True, user=os_user, cwd="/", env={"PGPASSFILE": "/dev/null"},
                          timeout=30)


def server_user() -> str:
    return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def assert_socket_is_private(s) -> None:
    sock_dir = s.home / "postgres-socket"
    st = sock_dir.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert pwd.getpwuid(st.st_uid).pw_name == server_user()
    assert "password" in socket_login(s, None)                        # no password, no login
    assert socket_login(s, "wrong") != "ok"
    assert socket_login(s, s.postgres_password) == "ok"
    assert stack._psql(sock_dir, s.postgres_port, "postgres" if os.geteuid() == 0 else None,
                       "SELECT current_user").strip() == "postgres"    # the stack's own calls: peer
    if os.geteuid() == 0:   # root can check what other local users get
        refused = psql_as("root", s)                                  # the socket reached, but not the server user
        assert refused.returncode != 0 and "Peer authentication failed" in refused.stderr, refused.stderr
        stranger = psql_as("nobody", s)                               # the socket not even reachable
        assert stranger.returncode != 0 and "Permission denied" in stranger.stderr, stranger.stderr


def test_the_local_postgres_socket_takes_a_password_or_the_stack_users_peer(running_stack):
    assert_socket_is_private(running_stack)
    pgdata = running_stack.data_dir / "postgres"
    for name, text in stack.postgres_auth_files(server_user()).items():
        assert (pgdata / name).read_text() == text


def test_an_older_stacks_open_postgres_is_made_private_on_the_next_up(settings):
    """A running server of an older stack is reloaded in place; a stopped one starts with the new rules."""
    own = dataclasses.replace(settings, home=settings.home / "pg-upgrade", postgres_port=settings.postgres_port + 100)
    shutil.rmtree(own.home, ignore_errors=True)
    pgdata, sock_dir = own.data_dir / "postgres", own.home / "postgres-socket"
    svc = stack.service(own, "postgres")

    def make_old() -> None:
        (pgdata / "pg_hba.conf").write_text(OLD_PG_HBA)
        (pgdata / "pg_ident.conf").write_text("# MAPNAME SYSTEM-USERNAME PG-USERNAME\n")
        sock_dir.chmod(0o755)

    try:
        stack.up(own, ["postgres"], log=lambda _: None)
        make_old()
        pid = svc.process.pid()
        os.kill(pid, signal.SIGHUP)
        wait_until(lambda: socket_login(own, None) == "ok", 30, "the old trust rule to take effect")

        lines: list[str] = []
        stack.up(own, ["postgres"], log=lines.append)
        assert lines[0].startswith(f"postgres  reloaded (pid {pid}): socket logins need a password"), lines
        assert lines[1].startswith(f"postgres  already running (pid {pid})")
        wait_until(lambda: "password" in socket_login(own, None), 30, "the reload to refuse a login without password")
        assert_socket_is_private(own)
        lines.clear()
        stack.up(own, ["postgres"], log=lines.append)                  # up to date now: nothing to reload
        assert [l.split("(")[0].strip() for l in lines] == ["postgres  already running"]

        stack.down(own, ["postgres"], log=lambda _: None)
        make_old()
        stack.up(own, ["postgres"], log=lines.append)
        assert "started" in lines[-1]
        assert_socket_is_private(own)
        for name, text in stack.postgres_auth_files(server_user()).items():
            assert (pgdata / name).read_text() == text
    finally:
        stack.down(own, ["postgres"], log=lambda _: None)
        shutil.rmtree(own.home, ignore_errors=True)


def test_the_storage_writer_refuses_to_start_on_a_database_without_its_schema(running_stack):
    """Started against a database `tickflow db migrate` has not prepared, the writer would fail on its
    first row and restart on it forever; the CLI says what to do in one line instead, before any Flink.
    (An empty schema first on the search path stands in for a fresh database.)"""
    with psycopg2.connect(running_stack.postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS unmigrated CASCADE; CREATE SCHEMA unmigrated")
    try:
        env = {**os.environ, "PGOPTIONS": "-c search_path=unmigrated"}
        for command in ("run", "submit"):
            r = subprocess.run([sys.executable, "-m", "tickflow.cli", command, "storage_writer", "--bounded"],
                               capture_output=True, text=True, timeout=60, env=env)
            lines = [line for line in r.stderr.splitlines() if line.strip()]
            assert r.returncode == 1 and len(lines) == 1, r.stderr
            assert lines[0].startswith("tickflow: storage_writer: the database lacks migration 001_tables")
            assert "run `tickflow db migrate` first" in lines[0]
    finally:
        with psycopg2.connect(running_stack.postgres_dsn) as conn, conn.cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS unmigrated CASCADE")
