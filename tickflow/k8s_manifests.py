"""Kubernetes resources generated from the project's own sources, so that they cannot drift from them.

- one ``FlinkDeployment`` per streaming job (Application mode, the PythonDriver running ``jobs/<job>.py``),
  its ``flinkConfiguration`` the flattened ``flink-conf/production/config.yaml``;
- the Kafka topics as Strimzi ``KafkaTopic`` resources from ``schemas/topics.yaml``;
- a ``Deployment`` per provider connector (``tickflow connect``).

``tickflow k8s generate`` writes them under ``k8s/base/``; ``tickflow k8s generate --check`` (and a unit
test) fails when the committed files differ from what the sources give.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tickflow.config import PROJECT_ROOT

BASE = PROJECT_ROOT / "k8s" / "base"
PRODUCTION_CONFIG = PROJECT_ROOT / "flink-conf" / "production" / "config.yaml"
TOPICS = PROJECT_ROOT / "schemas" / "topics.yaml"
FLINK_VERSION = "v2_2"
FLINK_PYTHON_JAR = "local:///opt/flink/opt/flink-python-2.2.1.jar"
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
APP_DIR = "/opt/tickflow"           # the project's code in the image (k8s/image/Dockerfile)
IMAGE = "tickflow"                  # the overlays set the registry and tag
SECRET = "tickflow-credentials"     # created by the operator of the cluster, never committed (k8s/README.md)
KAFKA_CLUSTER = "tickflow"          # the Strimzi Kafka cluster the topics belong to


@dataclass(frozen=True)
class JobSpec:
    """One streaming job as it runs on Kubernetes."""

    module: str                      # jobs/<module>.py
    parallelism: int
    args: tuple[str, ...] = ()
    taskmanager_memory: str = "4096m"
    taskmanager_cpu: float = 2.0
    needs_postgres: bool = False          # gets the database's host and password


JOBS: dict[str, JobSpec] = {
    "market-data-processor": JobSpec("market_data_processor", parallelism=4),
    "indicators": JobSpec("indicators", parallelism=2, taskmanager_memory="3072m"),
    "storage-writer": JobSpec("storage_writer", parallelism=2, args=("--lake", "s3://tickflow-prod/lake"),
                              needs_postgres=True),
    "data-quality": JobSpec("data_quality", parallelism=2, taskmanager_memory="3072m"),
}


@dataclass(frozen=True)
class ConnectorSpec:
    provider: str
    symbols: tuple[str, ...]
    backup: str | None = None
    key_envs: tuple[str, ...] = field(default_factory=tuple)


CONNECTORS: dict[str, ConnectorSpec] = {
    "connector-polygon": ConnectorSpec("polygon", ("ES",), backup="finnhub",
                                       key_envs=("POLYGON_API_KEY", "FINNHUB_API_KEY")),
}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested YAML config → Flink's dotted keys with string values (as ``flinkConfiguration`` takes them)."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def production_configuration() -> dict[str, str]:
    return flatten(yaml.safe_load(PRODUCTION_CONFIG.read_text()))


def _env(needs_postgres: bool) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "TICKFLOW_PROJECT_ROOT", "value": APP_DIR},
        {"name": "TICKFLOW_JARS_IN_FLINK_LIB", "value": "true"},
        {"name": "TICKFLOW_KAFKA_SERVERS", "value": "tickflow-kafka-bootstrap:9092"},
    ]
    if needs_postgres:
        env += [{"name": "TICKFLOW_POSTGRES_HOST", "value": "tickflow-postgres"},
                {"name": "TICKFLOW_POSTGRES_PORT", "value": "5432"},
                {"name": "TICKFLOW_POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": SECRET,
                                                                                     "key": "postgres-password"}}}]
    # every job checkpoints to S3: the s3a file system reads these from the environment
    env += [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "s3-access-key"}}},
            {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "s3-secret-key"}}}]
    return env


def flink_deployment(name: str, job: JobSpec) -> dict[str, Any]:
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "tickflow"}},
        "spec": {
            "image": IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "flinkVersion": FLINK_VERSION,
            "serviceAccount": "flink",
            "flinkConfiguration": production_configuration(),
            "podTemplate": {"spec": {"containers": [{
                "name": "flink-main-container",
                "env": _env(job.needs_postgres),
                "ports": [{"name": "metrics", "containerPort": 9249, "protocol": "TCP"}],
            }]}},
            "jobManager": {"replicas": 1, "resource": {"memory": "2048m", "cpu": 1}},
            "taskManager": {"resource": {"memory": job.taskmanager_memory, "cpu": job.taskmanager_cpu}},
            "job": {
                "jarURI": FLINK_PYTHON_JAR,
                "entryClass": PYTHON_DRIVER,
                # PythonDriver's own options first, then the job's (as `tickflow submit` passes them)
                "args": ["-py", f"{APP_DIR}/jobs/{job.module}.py", "-pyfs", APP_DIR, *job.args, "--cluster"],
                "parallelism": job.parallelism,
                "upgradeMode": "savepoint",
                "state": "running",
            },
        },
    }


def kafka_topics() -> list[dict[str, Any]]:
    registry = yaml.safe_load(TOPICS.read_text())
    replicas = int(registry.get("defaults", {}).get("replication_factor", 1))
    out = []
    for name, t in registry["topics"].items():
        out.append({
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": {"name": name.replace(".", "-").replace("_", "-"),
                         "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, "app.kubernetes.io/part-of": "tickflow"}},
            "spec": {"topicName": name, "partitions": int(t["partitions"]), "replicas": replicas,
                     "config": {k: str(v) for k, v in (t.get("config") or {}).items()}},
        })
    return out


def connector_deployment(name: str, spec: ConnectorSpec) -> dict[str, Any]:
    args = ["connect", spec.provider, "--symbols", ",".join(spec.symbols), "--health-host", "0.0.0.0",
            "--health-port", "9464", "--config", f"{APP_DIR}/connectors/providers.yaml"]
    if spec.backup:
        args += ["--backup", spec.backup]
    probe = {"httpGet": {"path": "/health", "port": "health"}, "periodSeconds": 10}
    env = [{"name": "TICKFLOW_KAFKA_SERVERS", "value": "tickflow-kafka-bootstrap:9092"}]
    env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": k.lower().replace("_", "-")}}}
            for k in spec.key_envs]
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "tickflow",
              "app.kubernetes.io/component": "connector"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,   # one publisher per feed: two would publish every trade twice
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "connector", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                "command": ["/opt/venv/bin/tickflow"], "args": args, "env": env,
                "ports": [{"name": "health", "containerPort": 9464}],
                "readinessProbe": probe,
                "livenessProbe": {**probe, "failureThreshold": 6},
                "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            }]}},
        },
    }


def rendered() -> dict[Path, str]:
    """File → content of every generated resource under ``k8s/base``."""
    def dump(doc: Any) -> str:
        return yaml.safe_dump(doc, sort_keys=False, width=120)

    header = "# generated by `tickflow k8s generate` from {src}; edit the source, not this file\n"
    files: dict[Path, str] = {}
    for name, job in JOBS.items():
        files[BASE / f"flink-{name}.yaml"] = (header.format(src="tickflow/k8s_manifests.py, "
                                                            "flink-conf/production/config.yaml")
                                              + dump(flink_deployment(name, job)))
    files[BASE / "kafka-topics.yaml"] = (header.format(src="schemas/topics.yaml")
                                         + "---\n".join(dump(t) for t in kafka_topics()))
    for name, spec in CONNECTORS.items():
        files[BASE / f"{name}.yaml"] = header.format(src="tickflow/k8s_manifests.py") + dump(
            connector_deployment(name, spec))
    return files


def generate(check: bool = False) -> list[Path]:
    """Write the generated files (or, with ``check``, list those whose committed content differs)."""
    stale = []
    for path, text in rendered().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    return stale
