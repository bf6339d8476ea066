"""Kubernetes resources generated from the project's own sources, so that they cannot drift from them.

- one ``FlinkDeployment`` per streaming job (Application mode, the PythonDriver running ``jobs/<job>.py``),
  its ``flinkConfiguration`` the flattened ``flink-conf/production/config.yaml``;
- the Kafka topics as Strimzi ``KafkaTopic`` resources from ``schemas/topics.yaml``;
- a ``Deployment`` per provider connector (``tickflow connect``);
- the ``NetworkPolicy`` resources: ingress to tickflow's pods is denied unless a policy allows it;
- the ``PrometheusRule`` of the alert rules, wrapping the plain rules file ``k8s/rules/tickflow.rules.yaml``
  that the local stack's Prometheus loads as it is (one source of the rules).

Every pod runs as the image's non-root ``flink`` user with a read-only root file system, no privilege
escalation, no capabilities and the runtime's default seccomp profile; what a process writes at run time
goes to ``emptyDir`` volumes (``SCRATCH_*``).

``tickflow k8s generate`` writes them under ``k8s/base/``; ``tickflow k8s generate --check`` (and a unit
test) fails when the committed files differ from what the sources give.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs import catalog
from tickflow.runtime.config import PROJECT_ROOT

BASE = PROJECT_ROOT / "k8s" / "base"
PRODUCTION_CONFIG = PROJECT_ROOT / "flink-conf" / "production" / "config.yaml"
TOPICS = PROJECT_ROOT / "schemas" / "topics.yaml"
ALERT_RULES = PROJECT_ROOT / "k8s" / "rules" / "tickflow.rules.yaml"   # also loaded by the local Prometheus
FLINK_VERSION = "v2_2"
FLINK_PYTHON_JAR = "local:///opt/flink/opt/flink-python-2.2.1.jar"
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
APP_DIR = "/opt/tickflow"           # the project's code in the image (k8s/image/Dockerfile)
IMAGE = "tickflow"                  # the overlays set the registry and tag
SECRET = "tickflow-credentials"     # created by the operator of the cluster, never committed (k8s/README.md)
KAFKA_CLUSTER = "tickflow"          # the Strimzi Kafka cluster the topics belong to
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:9092"
PART_OF = {"app.kubernetes.io/part-of": "tickflow"}

# The `flink` user and group of the official Flink image, which k8s/image/Dockerfile runs as (a unit test
# keeps them equal). Flink's own files belong to it; the pods' emptyDirs are made its group's (fsGroup).
RUN_AS_USER = 9999
RUN_AS_GROUP = 9999

# Where processes write at run time, each an emptyDir (the root file system is read-only):
# /tmp (the JVM's perf data and native libraries it unpacks, Python's temporary files, PyFlink's client
# files, the S3 file system's upload buffers), Flink's log directory (kubernetes.flink.log.dir's default)
# and Flink's io.tmp.dirs (flink-conf/production/config.yaml: RocksDB, local recovery, blobs, the Python
# files shipped to the workers). Python's bytecode is compiled into the image, so nothing writes beside it.
FLINK_LOG_DIR = "/opt/flink/log"
FLINK_WORK_DIR = "/opt/flink/work"
SCRATCH_FLINK = {"tmp": "/tmp", "flink-log": FLINK_LOG_DIR, "flink-work": FLINK_WORK_DIR}
SCRATCH_CONNECTOR = {"tmp": "/tmp"}

FLINK_METRICS_PORT = 9249           # metrics.reporter.prom.port in flink-conf/production/config.yaml
FLINK_REST_PORT = 8081
CONNECTOR_HEALTH_PORT = 9464        # /livez, /readyz, /health and /metrics of `tickflow connect`
PROVIDERS_CONFIG = f"{APP_DIR}/connectors/providers.production.yaml"   # the providers' real endpoints

# NetworkPolicy peers. The operator's namespace is a choice of whoever installs it (k8s/README.md says how to
# patch it); its pods carry the Helm chart's name label. Anything else that needs a job's REST API (a
# dashboard, a CI job) runs in tickflow's namespace with FLINK_REST_CLIENT_LABEL.
OPERATOR_NAMESPACE = "flink-operator"
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "flink-kubernetes-operator"}
MONITORING_NAMESPACE = "monitoring"
FLINK_REST_CLIENT_LABEL = {"tickflow/flink-rest-client": "true"}
KAFKA_BROKER_LABELS = {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/name": f"{KAFKA_CLUSTER}-kafka"}
KAFKA_CLIENT_PORT = 9092


@dataclass(frozen=True)
class JobSpec:
    """One streaming job as it runs on Kubernetes."""

    module: str                      # jobs/<module>.py
    parallelism: int
    args: tuple[str, ...] = ()
    taskmanager_memory: str = "4096m"
    taskmanager_cpu: float = 2.0
    needs_postgres: bool = False          # gets the database's host and password


# how each job the catalog deploys runs in production (a deployed job without sizing here fails at import)
_SIZING: dict[catalog.Job, dict] = {
    catalog.MARKET_DATA_PROCESSOR: {"parallelism": 4},
    catalog.INDICATORS: {"parallelism": 2, "taskmanager_memory": "3072m"},
    catalog.STORAGE_WRITER: {"parallelism": 2, "args": ("--lake", "s3://tickflow-prod/lake"), "needs_postgres": True},
    catalog.DATA_QUALITY: {"parallelism": 2, "taskmanager_memory": "3072m"},
}
JOBS: dict[str, JobSpec] = {job.name: JobSpec(job.module, **_SIZING[job]) for job in catalog.JOBS if job.deployed}


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


def pod_security_context() -> dict[str, Any]:
    """Every tickflow pod's: the image's non-root user, the runtime's default seccomp profile."""
    return {"runAsNonRoot": True, "runAsUser": RUN_AS_USER, "runAsGroup": RUN_AS_GROUP, "fsGroup": RUN_AS_GROUP,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context() -> dict[str, Any]:
    """Every tickflow container's: nothing written outside its volumes, no way to gain privileges."""
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def scratch_volumes(dirs: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, volumeMounts): one emptyDir per writable directory."""
    return ([{"name": name, "emptyDir": {}} for name in dirs],
            [{"name": name, "mountPath": path} for name, path in dirs.items()])


def _env(needs_postgres: bool) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "TICKFLOW_PROJECT_ROOT", "value": APP_DIR},
        {"name": "TICKFLOW_JARS_IN_FLINK_LIB", "value": "true"},
        {"name": "TICKFLOW_KAFKA_SERVERS", "value": KAFKA_BOOTSTRAP},
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


def flink_pod_labels(name: str) -> dict[str, str]:
    """The labels of a job's JobManager and TaskManager pods (beside Flink's own ``app``,
    ``component`` and ``type``); the NetworkPolicies select by them."""
    return {"app.kubernetes.io/name": name, **PART_OF, "app.kubernetes.io/component": "flink"}


def flink_deployment(name: str, job: JobSpec) -> dict[str, Any]:
    volumes, mounts = scratch_volumes(SCRATCH_FLINK)
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name, **PART_OF}},
        "spec": {
            "image": IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "flinkVersion": FLINK_VERSION,
            "serviceAccount": "flink",
            "flinkConfiguration": production_configuration(),
            # the base of the JobManager's and the TaskManagers' pods (the operator merges its own into it)
            "podTemplate": {
                "metadata": {"labels": flink_pod_labels(name)},
                "spec": {
                    "securityContext": pod_security_context(),
                    "containers": [{
                        "name": "flink-main-container",
                        "securityContext": container_security_context(),
                        "env": _env(job.needs_postgres),
                        "ports": [{"name": "metrics", "containerPort": FLINK_METRICS_PORT, "protocol": "TCP"}],
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
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
            "--health-port", str(CONNECTOR_HEALTH_PORT), "--config", PROVIDERS_CONFIG]
    if spec.backup:
        args += ["--backup", spec.backup]
    env: list[dict[str, Any]] = [{"name": "TICKFLOW_KAFKA_SERVERS", "value": KAFKA_BOOTSTRAP}]
    env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": k.lower().replace("_", "-")}}}
            for k in spec.key_envs]
    volumes, mounts = scratch_volumes(SCRATCH_CONNECTOR)

    def labels() -> dict[str, str]:
        return {"app.kubernetes.io/name": name, **PART_OF, "app.kubernetes.io/component": "connector"}

    def get(path: str) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "health"}}

    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels()},
        "spec": {
            "replicas": 1,   # one publisher per feed: two would publish every trade twice
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels()}, "spec": {
                "securityContext": pod_security_context(),
                "automountServiceAccountToken": False,   # it never calls the Kubernetes API
                "containers": [{
                    "name": "connector", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                    "command": ["/opt/venv/bin/tickflow"], "args": args, "env": env,
                    "ports": [{"name": "health", "containerPort": CONNECTOR_HEALTH_PORT}],
                    # start-up recovers the last published position per symbol from md.raw.trades before
                    # the feed starts: up to 5 min before liveness counts
                    "startupProbe": {**get("/livez"), "periodSeconds": 5, "failureThreshold": 60},
                    # restarted only when the process is wedged, never because a provider or Kafka is away
                    # (a restart would drop what it still holds for Kafka)
                    "livenessProbe": {**get("/livez"), "periodSeconds": 10, "timeoutSeconds": 5,
                                      "failureThreshold": 6},
                    # not ready while no feed is connected or deliveries to Kafka are stuck
                    "readinessProbe": {**get("/readyz"), "periodSeconds": 10, "timeoutSeconds": 5},
                    "securityContext": container_security_context(),
                    "volumeMounts": mounts,
                    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                }],
                "volumes": volumes,
            }},
        },
    }


def _policy(name: str, pods: dict[str, str], ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "labels": dict(PART_OF)},
            "spec": {"podSelector": {"matchLabels": dict(pods)}, "policyTypes": ["Ingress"], "ingress": ingress}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policies() -> list[dict[str, Any]]:
    """Ingress to tickflow's pods: denied, then allowed per need. Policies add up: a pod takes what any
    policy selecting it allows. Probes come from the node, which NetworkPolicy does not filter."""
    flink = {**PART_OF, "app.kubernetes.io/component": "flink"}
    connectors = {**PART_OF, "app.kubernetes.io/component": "connector"}
    policies = [
        _policy("tickflow-default-deny-ingress", PART_OF, []),
        _policy("tickflow-flink-rest", {**flink, "component": "jobmanager"}, [{
            "from": [{**_namespace(OPERATOR_NAMESPACE), "podSelector": {"matchLabels": dict(OPERATOR_POD_LABELS)}},
                     {"podSelector": {"matchLabels": dict(FLINK_REST_CLIENT_LABEL)}}],
            "ports": _tcp(FLINK_REST_PORT)}]),
        _policy("tickflow-flink-metrics", flink, [{"from": [_namespace(MONITORING_NAMESPACE)],
                                                   "ports": _tcp(FLINK_METRICS_PORT)}]),
        _policy("tickflow-connector-metrics", connectors, [{"from": [_namespace(MONITORING_NAMESPACE)],
                                                            "ports": _tcp(CONNECTOR_HEALTH_PORT)}]),
        # the brokers' client listener: tickflow's pods only (Strimzi's own policies cover its other ports)
        _policy("tickflow-kafka-clients", KAFKA_BROKER_LABELS,
                [{"from": [{"podSelector": {"matchLabels": dict(PART_OF)}}], "ports": _tcp(KAFKA_CLIENT_PORT)}]),
    ]
    # a job's JobManager and TaskManagers talk among themselves (RPC, blobs, data exchange between
    # TaskManagers on ports Flink may pick at random): all ports, but only within the job
    for name in JOBS:
        own = {"matchLabels": flink_pod_labels(name)}
        policies.append(_policy(f"tickflow-flink-{name}-internal", flink_pod_labels(name),
                                [{"from": [{"podSelector": own}]}]))
    return policies


def prometheus_rule() -> str:
    """The PrometheusRule holding the rules file's groups, its text (comments and layout) kept as written."""
    text = ALERT_RULES.read_text()
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, dict) or "groups" not in parsed:
        raise ValueError(f"{ALERT_RULES} is not a Prometheus rules file (no groups)")
    meta = yaml.safe_dump({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                           "metadata": {"name": "tickflow", "labels": dict(PART_OF)}}, sort_keys=False, width=120)
    return meta + "spec:\n" + "".join(f"  {line}" if line.strip() else line
                                      for line in text.splitlines(keepends=True))


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
    files[BASE / "network-policies.yaml"] = (header.format(src="tickflow/k8s_manifests.py")
                                             + "---\n".join(dump(p) for p in network_policies()))
    files[BASE / "alert-rules.yaml"] = header.format(src="k8s/rules/tickflow.rules.yaml") + prometheus_rule()
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
