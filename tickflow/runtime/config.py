"""The one place tickflow's settings live.

Every value has a default that runs on a laptop's loopback. Each can be overridden with an environment
variable named ``TICKFLOW_<FIELD>`` in upper case (``TICKFLOW_KAFKA_PORT=19092``), which is how tests run a
second stack beside the first and how production points the jobs at real services.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The checkout. A job's driver run by `flink run` imports tickflow from the staged copy shipped with the job
# (tickflow/cluster.py), so the checkout it came from is passed along in TICKFLOW_PROJECT_ROOT.
PROJECT_ROOT = Path(os.environ.get("TICKFLOW_PROJECT_ROOT") or Path(__file__).resolve().parents[2])


def _default_home() -> Path:
    return PROJECT_ROOT / ".tickflow"


@dataclass(frozen=True)
class Settings:
    """Endpoints, ports and paths for the local stack and the jobs."""

    home: Path = field(default_factory=_default_home)
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    postgres_port: int = 5433
    s3_port: int = 9000
    flink_rest_port: int = 8081
    flink_rpc_port: int = 6123
    flink_metrics_port: int = 9249
    zookeeper_port: int = 2181
    # the local stack's Prometheus (web UI and HTTP API), and the port a connector serves /metrics on, which
    # that Prometheus scrapes (`tickflow connect --health-port`'s default)
    prometheus_port: int = 9090
    connector_health_port: int = 9464
    postgres_db: str = "tickflow"
    postgres_user: str = "tickflow"
    postgres_password: str = "tickflow"
    s3_access_key: str = "tickflow"
    s3_secret_key: str = "tickflow-secret"
    s3_bucket: str = "tickflow"
    kafka_heap: str = "1g"
    checkpoint_interval_ms: int = 2000
    # keyed state of a local MiniCluster run: RocksDB as on the clusters (flink-conf/), or "hashmap" (on heap)
    local_state_backend: str = "rocksdb"
    # RocksDB checkpoints of a local run upload only the files new since the last one (incremental), as on
    # the clusters; off, every checkpoint is a full snapshot of the live state, so its size is the state's
    # size (bench/processor_throughput.py measures state growth this way)
    local_incremental_checkpoints: bool = True
    # How long a Kafka partition may send nothing before event time moves on without it. Longer than the
    # outages a job should ride through unchanged (a broker restart, a TaskManager failover): a partition
    # marked idle during an outage lets the others' watermark run ahead, and its records, when they come
    # back, can turn LATE. Shorter closes a quiet partition's bars sooner (docs/market_data_processor.md).
    source_idle_timeout_ms: int = 30_000
    # slots of the session cluster's TaskManager: one per core here; more when several jobs run at once
    # (the soak and the fault suite run the whole pipeline side by side with --parallelism 1 each)
    flink_task_slots: int = 2
    # TaskManagers of the session cluster (each with flink_task_slots slots); 2 × 1 slot shows scaling
    # across TaskManagers (bench/processor_scaling.py)
    flink_taskmanagers: int = 1
    # JobManager high availability for the session cluster: the stack runs ZooKeeper, the JobManager keeps
    # its leadership there and the job graphs and checkpoint pointers on S3, so a JobManager started after
    # one was lost recovers the running jobs from their latest checkpoints (as Kubernetes HA does in
    # production). Off by default: a laptop needs no second JobManager process to fail over to.
    flink_ha: bool = False
    # Where the jobs' connectors, the S3 plugin and the local services' jars are gathered by Maven.
    jars_dir: Path | None = None
    # The Kubernetes image puts the connector jars in Flink's lib/: jobs then do not ship them again.
    jars_in_flink_lib: bool = False
    # Production endpoints, where each service has its own host (Kubernetes services); empty = the local
    # stack's host and ports above.
    kafka_servers: str = ""
    postgres_host: str = ""
    s3_url: str = ""

    # --- derived paths -------------------------------------------------------------------------------
    @property
    def jars(self) -> Path:
        return self.jars_dir or (PROJECT_ROOT / ".tickflow" / "jars")

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def cache_dir(self) -> Path:
        """Downloads kept between runs (the ES sample wheel); shared by every stack home."""
        return PROJECT_ROOT / ".tickflow" / "cache"

    # --- endpoints -----------------------------------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_servers or f"{self.host}:{self.kafka_port}"

    @property
    def s3_endpoint(self) -> str:
        return self.s3_url or f"http://{self.host}:{self.s3_port}"

    @property
    def _pg_host(self) -> str:
        return self.postgres_host or self.host

    @property
    def postgres_dsn(self) -> str:
        return (f"host={self._pg_host} port={self.postgres_port} dbname={self.postgres_db} "
                f"user={self.postgres_user} password={self.postgres_password}")

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self._pg_host}:{self.postgres_port}/{self.postgres_db}"

    @property
    def flink_rest(self) -> str:
        return f"http://{self.host}:{self.flink_rest_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"


def _coerce(raw: str, current: object) -> object:
    if isinstance(current, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, Path) or current is None:
        return Path(raw).expanduser().resolve()
    return raw


def env_variable(setting: str) -> str:
    """The environment variable that sets ``setting`` (a field of Settings)."""
    return f"TICKFLOW_{setting.upper()}"


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from defaults, then ``TICKFLOW_*`` environment variables."""
    env = os.environ if env is None else env
    base = Settings()
    overrides: dict[str, Any] = {}  # field name → value of that field's type (_coerce follows the default)
    for f in dataclasses.fields(Settings):
        key = env_variable(f.name)
        if key in env:
            try:
                overrides[f.name] = _coerce(env[key], getattr(base, f.name))
            except ValueError as exc:
                raise ValueError(f"{key}={env[key]!r} is not valid: {exc}") from None
    return dataclasses.replace(base, **overrides)


SECRET_FIELDS = frozenset({"postgres_password", "s3_secret_key"})
MASK = "********"


def effective(s: Settings, env: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """Every setting as `tickflow config` shows it: its environment variable, its value (secrets masked)
    and whether the environment set it; then the endpoints derived from them."""
    env = os.environ if env is None else env
    rows = []
    for f in dataclasses.fields(Settings):
        key = env_variable(f.name)
        value = getattr(s, f.name)
        shown = MASK if f.name in SECRET_FIELDS else ("" if value is None else str(value))
        rows.append({"setting": key, "value": shown, "from": "environment" if key in env else "default"})
    for name in ("kafka_bootstrap", "s3_endpoint", "jdbc_url", "flink_rest", "prometheus_url", "jars"):
        rows.append({"setting": name, "value": str(getattr(s, name)), "from": "derived"})
    return rows


PORT_FIELDS = ("kafka_port", "kafka_controller_port", "postgres_port", "s3_port", "flink_rest_port",
               "flink_rpc_port", "flink_metrics_port", "zookeeper_port", "prometheus_port", "connector_health_port")


def shifted_stack_env(offset: int, home: str) -> dict[str, str]:
    """The TICKFLOW_* variables of a second stack beside the default one: every port + ``offset``, data in
    .tickflow/<home>. The tests (+10000), the benchmarks (+20000), the soak (+22000) and the fault suite
    (+21000) each run on one, so none touches another's topics, tables or ports; all stay below Linux's
    ephemeral ports (32768 and up), which any outgoing connection may hold."""
    env = {"TICKFLOW_HOME": str(PROJECT_ROOT / ".tickflow" / home)}
    env.update({env_variable(name): str(getattr(Settings, name) + offset) for name in PORT_FIELDS})
    return env

