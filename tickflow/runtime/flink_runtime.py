"""PyFlink environments with tickflow's jars and checkpointing, the same for MiniCluster and ``flink run``."""
from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path

from tickflow.runtime.arguments import OneLineArgumentParser
from tickflow.runtime.config import Settings
from tickflow.runtime.kafka_reading import bounded_read


def job_argument_parser(prog: str, description: str):
    """The arguments every tickflow job takes, the same locally and on a cluster; jobs add their own."""

    p = OneLineArgumentParser(prog=prog, description=description)
    p.add_argument("--bounded", action="store_true", help="stop after the offsets that exist at start")
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the local stack's)")
    p.add_argument("--parallelism", type=int, default=None)
    p.add_argument("--cluster", action="store_true",
                   help="submitted to a cluster (`tickflow submit`): return once submitted, use its checkpoint storage")
    return p


def local_bounded_run(args, bootstrap: str, group_id: str, topics: tuple[str, ...]):
    """Around a job's run in this process: for ``--bounded`` without ``--cluster`` (the call returns when the
    job has finished), commit its group through the ends its topics had before it started
    (``kafka_reading.bounded_read``); otherwise nothing — a job submitted to a cluster is not waited for."""

    return bounded_read(bootstrap, group_id, topics) if args.bounded and not args.cluster else nullcontext()


def flink_home() -> Path:
    """The Flink distribution that ships inside the apache-flink wheel (bin/, lib/, plugins/)."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def library_jars(s: Settings) -> list[Path]:
    """The connectors and their dependencies gathered from Maven (Kafka, JDBC, Parquet, Hadoop client)."""
    jars = sorted((s.jars / "flink-lib").glob("*.jar"))
    if not jars:
        raise RuntimeError(f"jars missing under {s.jars}: run `make setup`")
    return jars


def udfs_jar(s: Settings) -> Path:
    """tickflow's own SQL functions and operators (jobs/jvm)."""
    jar = s.jars / "tickflow-udfs" / "tickflow-udfs.jar"
    if not jar.exists():
        raise RuntimeError(f"{jar} missing: run `make setup`")
    return jar


def connector_jars(s: Settings) -> list[Path]:
    """Every jar a job needs beyond Flink itself."""
    return library_jars(s) + [udfs_jar(s)]


def job_configuration(s: Settings, job_name: str, on_cluster: bool = False) -> dict[str, str]:
    """Settings every tickflow job carries, wherever it runs.

    On a cluster (``on_cluster``) checkpointing (interval, mode, storage) is the cluster's (``flink-conf/``);
    in a local MiniCluster checkpoints go every ``checkpoint_interval_ms`` under the stack's home directory.

    Operators get uids from the planner in the form ``<job>-<node id>_<transformation>``
    (``table.exec.uid.generation=ALWAYS``): deterministic for the same query, so savepoints map state back.
    """

    conf = {
        "pipeline.name": job_name,
        "table.exec.uid.generation": "ALWAYS",
        "table.exec.uid.format": f"{job_name}-<id>_<transformation>",
        "table.exec.source.idle-timeout": f"{s.source_idle_timeout_ms} ms",
        # without this, Flink 2.2 emitted source watermarks only when the next record arrived (measured)
        "pipeline.auto-watermark-interval": "200 ms",
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
    }
    if not s.jars_in_flink_lib:  # the Kubernetes image has every jar in Flink's lib/ instead
        # The local session cluster has the library jars in its lib/ (cluster.py) and takes only tickflow's
        # own jar with each job: ~80 MB of connector classes loaded per job into a class loader a session
        # cluster never frees ended a TaskManager in a Metaspace OutOfMemoryError after a dozen submissions.
        jars = [udfs_jar(s)] if on_cluster else connector_jars(s)
        conf["pipeline.jars"] = ";".join(p.as_uri() for p in jars)
    if not on_cluster:
        # a cluster checkpoints as its own configuration says (flink-conf/local, flink-conf/production)
        conf.update({"execution.checkpointing.interval": f"{s.checkpoint_interval_ms} ms",
                     "execution.checkpointing.mode": "EXACTLY_ONCE",
                     "execution.checkpointing.min-pause": "500 ms",
                     "execution.checkpointing.timeout": "2 min"})
        conf["execution.checkpointing.dir"] = (s.home / "checkpoints" / job_name).as_uri()
        conf.update({"state.backend.type": s.local_state_backend,
                     "state.backend.incremental": str(s.local_incremental_checkpoints).lower()})
        # s3:// paths (the lake) reach the stack's S3 endpoint; a cluster has these in its own config
        conf.update({"s3.endpoint": s.s3_endpoint, "s3.path.style.access": "true",
                     "s3.access-key": s.s3_access_key, "s3.secret-key": s.s3_secret_key})
        # as on the cluster: a failed job (e.g. its database away) restarts from its last checkpoint
        conf["restart-strategy.type"] = "exponential-delay"
        # Prometheus metrics of a local run, beside the session cluster's ports (the first free one is taken)
        conf.update({"metrics.reporter.prom.factory.class": PROMETHEUS_REPORTER,
                     "metrics.reporter.prom.port": local_metrics_ports(s)})
    return conf


PROMETHEUS_REPORTER = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"


def local_metrics_ports(s: Settings) -> str:
    """The Prometheus port range of local MiniCluster runs: the ten ports after the session cluster's two."""
    return f"{s.flink_metrics_port + 2}-{s.flink_metrics_port + 11}"


def table_environment(s: Settings, job_name: str, parallelism: int | None = None,
                      on_cluster: bool = False, extra: dict[str, str] | None = None):
    """A streaming TableEnvironment configured for ``job_name`` (local MiniCluster unless submitted)."""
    return environments(s, job_name, parallelism, on_cluster, extra)[1]


def environments(s: Settings, job_name: str, parallelism: int | None = None,
                 on_cluster: bool = False, extra: dict[str, str] | None = None):
    """(StreamExecutionEnvironment, StreamTableEnvironment) sharing one configuration, for jobs that mix
    SQL with DataStream operators."""
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    settings = {**job_configuration(s, job_name, on_cluster), **(extra or {})}
    if not on_cluster:
        _on_gateway_classpath(s)
    conf = Configuration()
    for k, v in settings.items():
        conf.set_string(k, v)
    if not on_cluster:
        _configure_filesystems(conf)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    if parallelism:
        env.set_parallelism(parallelism)
    t_env = StreamTableEnvironment.create(env, EnvironmentSettings.in_streaming_mode())
    for k, v in settings.items():
        t_env.get_config().set(k, v)
    return env, t_env


def _on_gateway_classpath(s: Settings) -> None:
    """A local MiniCluster runs inside PyFlink's gateway JVM and loads no plugins, so the S3 filesystem (a
    self-contained, shaded jar) and the Prometheus reporter go on that JVM's classpath (PyFlink's launcher
    adds ``HADOOP_CLASSPATH``, read when the gateway starts, i.e. before the first environment);
    :func:`_configure_filesystems` then gives the filesystem the job's settings."""

    jars = sorted((s.jars / "flink-s3").glob("flink-s3-fs-hadoop-*.jar"))[:1]
    jars += sorted((flink_home() / "plugins" / "metrics-prometheus").glob("flink-metrics-prometheus-*.jar"))[:1]
    present = os.environ.get("HADOOP_CLASSPATH", "").split(os.pathsep)
    missing = [str(j) for j in jars if str(j) not in present]
    if missing:
        os.environ["HADOOP_CLASSPATH"] = os.pathsep.join(filter(None, [os.environ.get("HADOOP_CLASSPATH"), *missing]))


def _configure_filesystems(conf) -> None:
    """Give Flink's file systems in the gateway JVM this job's settings (the S3 endpoint and keys): the
    local MiniCluster does not do it."""
    from pyflink.java_gateway import get_gateway

    get_gateway().jvm.org.apache.flink.core.fs.FileSystem.initialize(conf._j_configuration, None)


def execute(stream_env, job_name: str, on_cluster: bool) -> None:
    """Run the job: submitted to a cluster, return once it is accepted; in a local MiniCluster, wait for
    the end (a bounded run) or run until stopped."""
    if on_cluster:
        stream_env.execute_async(job_name)
    else:
        stream_env.execute(job_name)
