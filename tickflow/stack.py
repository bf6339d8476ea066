"""The embedded local stack: Apache Kafka (KRaft), PostgreSQL, an S3 endpoint and Prometheus, on loopback.

Each service runs from what the project installs (Kafka and s3proxy jars gathered by Maven, Debian's
PostgreSQL and Prometheus binaries) with its data, logs and PID file under one directory (``Settings.home``).
``up`` is idempotent: a service that is already ours and healthy is reported, not restarted.
"""
from __future__ import annotations

import base64
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tickflow.k8s_manifests import ALERT_RULES
from tickflow.processes import (
    ManagedProcess,
    StackError,
    port_open,
    port_owner,
    wait_until,
)
from tickflow.runtime.config import Settings
from tickflow.topics import ensure_topics, load_registry


@dataclass
class Service:
    """How to prepare, start, health-check and stop one service."""

    name: str
    ports: list[int]
    process: ManagedProcess
    prepare: Callable[[], None]
    launch: Callable[[], None]
    healthy: Callable[[], bool]
    endpoint: str
    stop_signal: int = signal.SIGTERM
    start_timeout: float = 90.0
    # a running process started by an older version: why it must be restarted to take this version's
    # configuration (None: it need not be), and what was brought up to date without a restart
    outdated: Callable[[], str | None] = lambda: None
    reload: Callable[[], str | None] = lambda: None

    def started(self) -> bool:
        """The process it launched is still running and the service answers its health check."""
        return self.process.exited_early() is None and self.healthy()


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and Path(java_home, "bin", "java").exists():
        return str(Path(java_home, "bin", "java"))
    found = shutil.which("java")
    if not found:
        raise StackError("java not found on PATH (install a JDK 17 or set JAVA_HOME)")
    return found


def _jar_classpath(directory: Path, what: str) -> str:
    jars = sorted(directory.glob("*.jar"))
    if not jars:
        raise StackError(f"no jars in {directory} for {what}: run `make setup` (or `tickflow setup jars`)")
    return ":".join(str(j) for j in jars)


# --- Kafka -------------------------------------------------------------------------------------------

# The longest transaction the broker accepts (Kafka's default is 15 min). The jobs' exactly-once sinks ask
# for kafka_transactions.TRANSACTION_TIMEOUT_MS, which must fit under it (docs/fault_tolerance.md).
KAFKA_TRANSACTION_MAX_TIMEOUT_MS = 3_600_000


def kafka_properties(s: Settings) -> str:
    """The broker's server.properties: one KRaft node on loopback, data under the stack's data directory."""
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{s.host}:{s.kafka_controller_port}",
        f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
        f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={s.data_dir / 'kafka'}",
        "num.partitions=1",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        f"transaction.max.timeout.ms={KAFKA_TRANSACTION_MAX_TIMEOUT_MS}",
        "group.initial.rebalance.delay.ms=0",
        "log.retention.check.interval.ms=60000",
        "",
    ])


def _kafka(s: Settings) -> Service:
    base = s.home / "kafka"
    props = base / "server.properties"
    log_dirs = s.data_dir / "kafka"
    proc = ManagedProcess("kafka", s.run_dir / "kafka.pid", s.log_dir / "kafka.log", marker=str(props))

    def classpath() -> str:
        return _jar_classpath(s.jars / "kafka-broker", "the Kafka broker")

    def outdated() -> str | None:
        # the broker reads server.properties only at start (transaction.max.timeout.ms is not dynamic)
        if props.exists() and props.read_text() != kafka_properties(s):
            return "its server.properties is an older version's"
        return None

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        log_dirs.mkdir(parents=True, exist_ok=True)
        (base / "log4j2.properties").write_text(
            "rootLogger.level=INFO\nrootLogger.appenderRef.out.ref=out\n"
            "appender.out.type=Console\nappender.out.name=out\nappender.out.layout.type=PatternLayout\n"
            "appender.out.layout.pattern=[%d] %p %m (%c)%n\n"
            "logger.kafka.name=kafka\nlogger.kafka.level=WARN\n"
            "logger.apache.name=org.apache.kafka\nlogger.apache.level=WARN\n")
        props.write_text(kafka_properties(s))
        if not (log_dirs / "meta.properties").exists():
            cluster_id = _kafka_cluster_id()
            out = subprocess.run([_java(), "-cp", classpath(),
                                  f"-Dlog4j2.configurationFile={base / 'log4j2.properties'}",
                                  *kafka_format_args(cluster_id, props)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise StackError(f"kafka storage format failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")

    def launch() -> None:
        proc.start([_java(), f"-Xmx{s.kafka_heap}", f"-Xms{s.kafka_heap}", "-XX:+UseG1GC",
                    "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                    f"-Dlog4j2.configurationFile={base / 'log4j2.properties'}",
                    "-cp", classpath(), "kafka.Kafka", str(props)])

    def healthy() -> bool:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=3000,
                                 client_id="tickflow-health")
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()

    return Service("kafka", [s.kafka_port, s.kafka_controller_port], proc, prepare, launch, healthy,
                   endpoint=f"kafka://{s.kafka_bootstrap}", outdated=outdated)


def kafka_format_args(cluster_id: str, props: Path) -> list[str]:
    """StorageTool's arguments; the id is joined to its flag because an id may start with "-", which the
    tool's argument parser would otherwise take for an option (seen: a fresh stack failing 1 time in 64)."""
    return ["kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props)]


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what kafka-storage random-uuid prints)."""

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


# --- PostgreSQL --------------------------------------------------------------------------------------

def postgres_bindir() -> Path:
    """Debian's PostgreSQL server binaries (the newest installed major), or TICKFLOW_PG_BINDIR."""
    override = os.environ.get("TICKFLOW_PG_BINDIR")
    candidates = [override] if override else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for c in candidates:
        if c and Path(c, "postgres").exists():
            return Path(c)
    raise StackError("PostgreSQL server binaries not found (apt-get install postgresql, or run `make setup`)")


def postgres_auth_files(server_user: str) -> dict[str, str]:
    """pg_hba.conf and pg_ident.conf of the local server, which runs as the OS user ``server_user``.

    Over the socket only ``server_user`` is the superuser ``postgres`` (peer, as the stack's own ``psql``
    calls run); every other role, there and on loopback TCP, gives its password (scram-sha-256). Other
    local users cannot reach the socket anyway: its directory is ``server_user``'s alone (0700)."""
    return {
        "pg_hba.conf": "# written by `tickflow stack up` (tickflow/stack.py) at every start; edits are replaced\n"
                       "local all postgres peer map=stack\n"
                       "local all all scram-sha-256\n"
                       "host all all 127.0.0.1/32 scram-sha-256\n"
                       "host all all ::1/128 scram-sha-256\n",
        "pg_ident.conf": "# written by `tickflow stack up` (tickflow/stack.py): the OS user the server runs as\n"
                         f"stack {server_user} postgres\n",
    }


def _postgres(s: Settings) -> Service:
    pgdata = s.data_dir / "postgres"
    sock = s.home / "postgres-socket"
    proc = ManagedProcess("postgres", s.run_dir / "postgres.pid", s.log_dir / "postgres.log", marker=str(pgdata))
    # PostgreSQL refuses to run as root: when we are root it runs as the `postgres` user Debian creates.
    run_as = "postgres" if os.geteuid() == 0 else None
    server_user = run_as or pwd.getpwuid(os.geteuid()).pw_name

    def chown(path: Path) -> None:
        if run_as:
            pw = pwd.getpwnam(run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def private_socket_dir() -> None:
        sock.mkdir(parents=True, exist_ok=True)
        chown(sock)
        sock.chmod(0o700)

    def write_auth_files() -> bool:
        """Write pg_hba.conf and pg_ident.conf; True if either changed (a data directory of an older stack)."""
        changed = False
        for name, text in postgres_auth_files(server_user).items():
            path = pgdata / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                chown(path)
                changed = True
        return changed

    def prepare() -> None:
        bindir = postgres_bindir()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        private_socket_dir()
        s.log_dir.mkdir(parents=True, exist_ok=True)
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(mode=0o700, exist_ok=True)
            chown(pgdata)
            out = subprocess.run([str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "-E", "UTF8",
                                  "--locale=C", "--auth-local=peer", "--auth-host=scram-sha-256", "--no-instructions"],
                                 capture_output=True, text=True, user=run_as)
            if out.returncode != 0:
                raise StackError(f"initdb failed: {out.stderr.strip().splitlines()[-1:]}")
        write_auth_files()

    def launch() -> None:
        proc.start([str(postgres_bindir() / "postgres"), "-D", str(pgdata), "-p", str(s.postgres_port),
                    "-c", f"listen_addresses={s.host}", "-c", f"unix_socket_directories={sock}",
                    "-c", "unix_socket_permissions=0700",
                    "-c", "max_connections=100", "-c", "shared_buffers=256MB", "-c", "fsync=on",
                    "-c", "logging_collector=off"], user=run_as, cwd=pgdata)
        wait_until(lambda: port_open(s.host, s.postgres_port), 60, "PostgreSQL to listen")
        _psql(sock, s.postgres_port, run_as,
              f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{s.postgres_user}') THEN "
              f"CREATE ROLE {s.postgres_user} LOGIN PASSWORD '{s.postgres_password}'; END IF; END$$;")
        if not _psql(sock, s.postgres_port, run_as,
                     f"SELECT 1 FROM pg_database WHERE datname='{s.postgres_db}'").strip():
            _psql(sock, s.postgres_port, run_as, f"CREATE DATABASE {s.postgres_db} OWNER {s.postgres_user}")

    def reload() -> str | None:
        """A server started by an older stack (socket open to all, ``local all all trust``): made private in
        place, the new authentication rules taken by a reload (SIGHUP), the server not restarted."""
        private_socket_dir()
        pid = proc.pid()
        if not write_auth_files() or pid is None:
            return None
        os.kill(pid, signal.SIGHUP)
        return f"reloaded (pid {pid}): socket logins need a password, or peer for {server_user} as postgres"

    def healthy() -> bool:
        import psycopg2

        with psycopg2.connect(s.postgres_dsn, connect_timeout=3) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchone() == (1,)

    return Service("postgres", [s.postgres_port], proc, prepare, launch, healthy,
                   endpoint=f"postgresql://{s.postgres_user}:***@{s.host}:{s.postgres_port}/{s.postgres_db}",
                   stop_signal=signal.SIGINT, reload=reload)


def _psql(sock: Path, port: int, user: str | None, sql: str) -> str:
    out = subprocess.run([str(postgres_bindir() / "psql"), "-h", str(sock), "-p", str(port), "-U", "postgres",
                          "-d", "postgres", "-tAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, user=user)
    if out.returncode != 0:
        raise StackError(f"psql failed: {out.stderr.strip()}")
    return out.stdout


# --- S3 (s3proxy, filesystem backend) ----------------------------------------------------------------

def _s3(s: Settings) -> Service:
    base = s.home / "s3proxy"
    props = base / "s3proxy.properties"
    blobs = s.data_dir / "s3"
    proc = ManagedProcess("s3", s.run_dir / "s3.pid", s.log_dir / "s3.log", marker=str(props))

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        blobs.mkdir(parents=True, exist_ok=True)
        props.write_text("\n".join([
            f"s3proxy.endpoint=http://{s.host}:{s.s3_port}",
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={s.s3_access_key}",
            f"s3proxy.credential={s.s3_secret_key}",
            "jclouds.provider=filesystem",
            f"jclouds.filesystem.basedir={blobs}",
            "",
        ]))

    def launch() -> None:
        proc.start([_java(), "-Xmx512m", "-jar", _jar_classpath(s.jars / "s3proxy", "s3proxy"),
                    "--properties", str(props)])
        wait_until(lambda: port_open(s.host, s.s3_port), 60, "s3proxy to listen")
        client = s3_client(s)
        if s.s3_bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=s.s3_bucket)

    def healthy() -> bool:
        return s.s3_bucket in {b["Name"] for b in s3_client(s).list_buckets().get("Buckets", [])}

    return Service("s3", [s.s3_port], proc, prepare, launch, healthy,
                   endpoint=f"{s.s3_endpoint} (bucket {s.s3_bucket})")


def s3_client(s: Settings):
    """A boto3 S3 client for the stack's endpoint (path-style addressing, as s3proxy serves it)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=s.s3_endpoint, aws_access_key_id=s.s3_access_key,
                        aws_secret_access_key=s.s3_secret_key, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                                      connect_timeout=3, read_timeout=10))


# --- ZooKeeper (only with flink_ha) -------------------------------------------------------------------

def _zookeeper(s: Settings) -> Service:
    base = s.home / "zookeeper"
    conf = base / "zoo.cfg"
    data = s.data_dir / "zookeeper"
    proc = ManagedProcess("zookeeper", s.run_dir / "zookeeper.pid", s.log_dir / "zookeeper.log", marker=str(conf))

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        conf.write_text("\n".join([
            "tickTime=2000", f"dataDir={data}", f"clientPort={s.zookeeper_port}",
            f"clientPortAddress={s.host}", "admin.enableServer=false", "4lw.commands.whitelist=ruok",
            "maxClientCnxns=0", ""]))
        # logback logs everything at DEBUG without a configuration
        (base / "logback.xml").write_text(
            '<configuration><appender name="OUT" class="ch.qos.logback.core.ConsoleAppender"><encoder>'
            '<pattern>%d %-5level %logger{36} - %msg%n</pattern></encoder></appender>'
            '<root level="INFO"><appender-ref ref="OUT"/></root></configuration>\n')

    def launch() -> None:
        proc.start([_java(), "-Xmx256m", f"-Dlogback.configurationFile={base / 'logback.xml'}",
                    "-cp", _jar_classpath(s.jars / "zookeeper", "ZooKeeper"),
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(conf)])

    def healthy() -> bool:
        return zookeeper_ok(s.host, s.zookeeper_port)

    return Service("zookeeper", [s.zookeeper_port], proc, prepare, launch, healthy,
                   endpoint=f"{s.host}:{s.zookeeper_port} (Flink JobManager HA)")


def zookeeper_ok(host: str, port: int) -> bool:
    """ZooKeeper's ``ruok`` four-letter command answered ``imok``."""

    try:
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"ruok")
            return conn.recv(4) == b"imok"
    except OSError:
        return False


# --- Prometheus (Debian's package, our own process) ----------------------------------------------------

# a local `tickflow run` serves its metrics on the first free port of these (flink_runtime.local_metrics_ports)
LOCAL_RUN_METRICS_PORTS = range(2, 12)


def prometheus_binary(name: str = "prometheus") -> str:
    """Debian's ``prometheus`` (or ``promtool``) on the PATH."""
    found = shutil.which(name)
    if not found:
        raise StackError(f"{name} not found (apt-get install prometheus, or run `make setup`)")
    return found


def prometheus_config(s: Settings) -> str:
    """prometheus.yml of the local stack: the session cluster's JobManager and TaskManager, local
    MiniCluster runs, the connector service and Prometheus itself, with tickflow's alert rules."""
    def job(name: str, ports: list[int], path: str = "/metrics") -> list[str]:
        targets = ", ".join(f'"{s.host}:{p}"' for p in ports)
        return [f"  - job_name: {name}", f"    metrics_path: {path}", "    static_configs:",
                f"      - targets: [{targets}]"]

    metrics = s.flink_metrics_port
    return "\n".join([
        "# written by `tickflow stack up` (tickflow/stack.py) at every start; edits are replaced",
        "global:",
        "  scrape_interval: 5s",
        "  evaluation_interval: 5s",
        "rule_files:",
        f"  - {ALERT_RULES}",                                            # the same rules as k8s/base's
        "scrape_configs:",
        *job("flink", [metrics, metrics + 1]),                         # session cluster: JobManager, TaskManager
        *job("flink-local-runs", [metrics + i for i in LOCAL_RUN_METRICS_PORTS]),
        *job("connector", [s.connector_health_port]),                  # tickflow connect
        *job("prometheus", [s.prometheus_port]),
        "",
    ])


def _prometheus(s: Settings) -> Service:
    base = s.home / "prometheus"
    conf = base / "prometheus.yml"
    data = s.data_dir / "prometheus"
    proc = ManagedProcess("prometheus", s.run_dir / "prometheus.pid", s.log_dir / "prometheus.log",
                          marker=str(conf))

    def write_config() -> bool:
        """Write prometheus.yml and check it and the rules with promtool; True if it changed."""
        text = prometheus_config(s)
        changed = not conf.exists() or conf.read_text() != text
        base.mkdir(parents=True, exist_ok=True)
        conf.write_text(text)
        out = subprocess.run([prometheus_binary("promtool"), "check", "config", str(conf)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise StackError(f"promtool check config {conf}: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
        return changed

    def prepare() -> None:
        data.mkdir(parents=True, exist_ok=True)
        write_config()

    def launch() -> None:
        proc.start([prometheus_binary(), f"--config.file={conf}", f"--storage.tsdb.path={data}",
                    "--storage.tsdb.retention.time=7d", f"--web.listen-address={s.host}:{s.prometheus_port}",
                    "--web.enable-lifecycle"], cwd=base)

    def reload() -> str | None:
        """Take this version's configuration and the current rules file without a restart (SIGHUP)."""
        pid = proc.pid()
        if pid is None:
            return None
        changed = write_config()
        os.kill(pid, signal.SIGHUP)
        return f"reloaded (pid {pid}): configuration changed" if changed else None

    def healthy() -> bool:
        import urllib.request

        with urllib.request.urlopen(f"{s.prometheus_url}/-/ready", timeout=3) as r:
            return r.status == 200

    return Service("prometheus", [s.prometheus_port], proc, prepare, launch, healthy,
                   endpoint=f"{s.prometheus_url} (rules: k8s/rules/tickflow.rules.yaml)", reload=reload)


# --- the stack ---------------------------------------------------------------------------------------

def services(s: Settings) -> list[Service]:
    return [_kafka(s), _postgres(s), _s3(s)] + ([_zookeeper(s)] if s.flink_ha else []) + [_prometheus(s)]


def _select(s: Settings, names: list[str] | None) -> list[Service]:
    all_services = services(s)
    if not names:
        return all_services
    known = {svc.name for svc in all_services}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StackError(f"unknown service {unknown[0]!r} (choose from {', '.join(sorted(known))})")
    return [svc for svc in all_services if svc.name in names]


def service(s: Settings, name: str) -> Service:
    """One service of the stack by name."""
    return _select(s, [name])[0]


def status(s: Settings, names: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(service, state, endpoint) for each service; state is running (pid N), unhealthy or stopped."""
    rows = []
    for svc in _select(s, names):
        pid = svc.process.pid()
        if pid is None:
            state = "stopped"
        else:
            try:
                state = f"running (pid {pid})" if svc.healthy() else f"unhealthy (pid {pid})"
            except Exception:
                state = f"unhealthy (pid {pid})"
        rows.append((svc.name, state, svc.endpoint))
    return rows


def up(s: Settings, names: list[str] | None = None, log: Callable[[str], None] = print) -> None:
    """Start what is not running, wait until healthy, create topics. Safe to call again."""
    for svc in _select(s, names):
        pid = svc.process.pid()
        why = svc.outdated() if pid is not None else None
        if why:
            log(f"{svc.name:9s} restarting (pid {pid}): {why}")
            svc.process.stop(svc.stop_signal, timeout=60)
        elif pid is not None:
            done = svc.reload()
            if done:
                log(f"{svc.name:9s} {done}")
            wait_until(svc.healthy, svc.start_timeout, f"{svc.name} (pid {pid}) to become healthy")
            log(f"{svc.name:9s} already running (pid {pid})  {svc.endpoint}")
            continue
        for port in svc.ports:
            if port_open(s.host, port):
                raise StackError(f"port {port} needed by {svc.name} is taken by {port_owner(port)}")
        svc.prepare()
        svc.launch()
        try:
            wait_until(svc.started, svc.start_timeout, f"{svc.name} to become healthy")
        except StackError:
            why = svc.process.exited_early()
            svc.process.stop(svc.stop_signal, timeout=10)
            raise StackError(f"{svc.name} did not start: {why or 'see ' + str(svc.process.log_file)}") from None
        log(f"{svc.name:9s} started (pid {svc.process.pid()})  {svc.endpoint}")
    if not names or "kafka" in names:

        for change in ensure_topics(s.kafka_bootstrap, load_registry()):
            log(f"topics    {change}")


def down(s: Settings, names: list[str] | None = None, log: Callable[[str], None] = print) -> None:
    """Stop the services this stack started (by PID file), in reverse order. Data is kept."""
    for svc in reversed(_select(s, names)):
        if svc.process.stop(svc.stop_signal, timeout=60):
            log(f"{svc.name:9s} stopped")
        else:
            log(f"{svc.name:9s} was not running")
