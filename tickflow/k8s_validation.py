"""Checks of the Kubernetes resources that run here, without a cluster: rendered overlays, CRD schemas,
and that every job a manifest starts exists and accepts its arguments.

Each problem names the file, the resource and the field (``k8s/overlays/prod: FlinkDeployment/indicators:
spec.job.args: jobs/indicatorz.py does not exist``) so that a broken manifest is fixed in one look.

Schemas: FlinkDeployment against the Flink Kubernetes Operator's CRD from its API jar (Maven, gathered by
``tickflow setup jars``); KafkaTopic, PodMonitor and PrometheusRule against the CRD schemas packaged in
kubernetes-models (npm, ``tests/k8s-validate``), and Kubernetes' own kinds (Deployment, Job, NetworkPolicy,
ConfigMap) against its API schemas in the same package.

Every pod (Deployment, Job, a FlinkDeployment's pod templates) must keep the security settings the
generator gives it (``POD_SECURITY``): a non-root user, a read-only root file system with an emptyDir
mounted wherever a process writes, no privilege escalation, no capabilities, the default seccomp profile.
The newest operator API jar the package registry serves here is 1.10.0, whose ``flinkVersion`` enum stops
at v1_20; the Flink 2 values that operator 1.13+ accepts are added to it, and ``flinkVersion`` is checked
against this project's Flink version instead.
"""
from __future__ import annotations

import functools
import importlib
import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tickflow.runtime.config import PROJECT_ROOT, Settings

CRD_MEMBER = "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml"
FLINK2_VERSIONS = ["v2_0", "v2_1", "v2_2"]
NODE_VALIDATOR = PROJECT_ROOT / "tests" / "k8s-validate"
APP_DIR = "/opt/tickflow"


class ValidationError(RuntimeError):
    """The checks could not run (a missing tool or jar); the message says what to install."""


@dataclass(frozen=True)
class Problem:
    source: str
    resource: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.resource}: {self.field}: {self.message}"


def project_flink_version() -> str:
    """``v2_2`` for the Flink version pom.xml pins."""
    m = re.search(r"<flink.version>(\d+)\.(\d+)\.\d+</flink.version>", (PROJECT_ROOT / "pom.xml").read_text())
    if not m:
        raise ValidationError("pom.xml has no <flink.version>")
    return f"v{m.group(1)}_{m.group(2)}"


def kustomize_command() -> list[str]:
    """``kubectl kustomize`` where kubectl is installed, else a ``kustomize`` binary (``make setup``)."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    for candidate in (shutil.which("kustomize"), PROJECT_ROOT / ".tickflow" / "bin" / "kustomize"):
        if candidate and Path(candidate).exists():
            return [str(candidate), "build"]
    raise ValidationError("neither kubectl nor kustomize found: run `make setup` (installs kustomize with Go)")


def render(overlay: Path) -> list[dict[str, Any]]:
    out = subprocess.run([*kustomize_command(), str(overlay)], capture_output=True, text=True)
    if out.returncode != 0:
        raise ValidationError(f"{overlay}: kustomize failed: {out.stderr.strip().splitlines()[-1:]}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def flink_deployment_schema(s: Settings) -> dict[str, Any]:
    jars = sorted((s.jars / "k8s-crds").glob("flink-kubernetes-operator-api-*.jar"))
    if not jars:
        raise ValidationError(f"no operator API jar in {s.jars / 'k8s-crds'}: run `make setup`")
    return _crd_schema(jars[-1])


@functools.lru_cache(maxsize=2)
def _crd_schema(jar_path: Path) -> dict[str, Any]:
    """The FlinkDeployment schema of one operator API jar, read once per process (parsing takes seconds)."""
    with zipfile.ZipFile(jar_path) as jar:
        crd = yaml.safe_load(jar.read(CRD_MEMBER))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    schema = version["schema"]["openAPIV3Schema"]
    enum = schema["properties"]["spec"]["properties"]["flinkVersion"]["enum"]
    enum.extend(v for v in FLINK2_VERSIONS if v not in enum)
    return schema


def _field(path) -> str:
    return ".".join(str(p) for p in path) or "(resource)"


def check_flink_deployment(doc: dict[str, Any], source: str, schema: dict[str, Any]) -> list[Problem]:
    name = f"FlinkDeployment/{doc.get('metadata', {}).get('name', '?')}"
    problems = [Problem(source, name, _field(e.absolute_path), e.message.splitlines()[0][:200])
                for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    spec = doc.get("spec") or {}
    flink = project_flink_version()
    if spec.get("flinkVersion") != flink:
        problems.append(Problem(source, name, "spec.flinkVersion",
                                f"{spec.get('flinkVersion')!r}, but the project runs Flink {flink} (pom.xml)"))
    conf = spec.get("flinkConfiguration") or {}
    job = spec.get("job") or {}
    if job.get("upgradeMode") == "savepoint" and not conf.get("execution.checkpointing.savepoint-dir"):
        problems.append(Problem(source, name, "spec.flinkConfiguration",
                                "upgradeMode savepoint needs execution.checkpointing.savepoint-dir"))
    problems += _check_job_args(job.get("args") or [], source, name)
    return problems


def _check_job_args(args: list[str], source: str, name: str) -> list[Problem]:
    """``-py /opt/tickflow/jobs/<m>.py -pyfs /opt/tickflow <job args>``: the module exists and parses them."""
    field = "spec.job.args"
    try:
        script = args[args.index("-py") + 1]
    except (ValueError, IndexError):
        return [Problem(source, name, field, "no -py <script>")]
    if not script.startswith(f"{APP_DIR}/jobs/") or not script.endswith(".py"):
        return [Problem(source, name, field, f"{script} is not a job under {APP_DIR}/jobs/")]
    module = Path(script).stem
    if not (PROJECT_ROOT / "jobs" / f"{module}.py").is_file():
        return [Problem(source, name, field, f"jobs/{module}.py does not exist")]
    rest = list(args)
    for flag in ("-py", "-pyfs"):
        if flag in rest:
            i = rest.index(flag)
            del rest[i:i + 2]
    try:
        importlib.import_module(f"jobs.{module}").parse_args(rest)
    except SystemExit:
        return [Problem(source, name, field, f"jobs/{module}.py does not accept {' '.join(rest)!r}")]
    return []


# --- pod security -----------------------------------------------------------------------------------------

POD_SECURITY = ("runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, capabilities dropped, "
                "RuntimeDefault seccomp")
FLINK_LOG_DIR_DEFAULT = "/opt/flink/log"      # kubernetes.flink.log.dir's default
WORKLOAD_TEMPLATES = {"Deployment": "spec.template", "StatefulSet": "spec.template", "DaemonSet": "spec.template",
                      "Job": "spec.template", "CronJob": "spec.jobTemplate.spec.template"}


def _at(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for key in dotted.split("."):
        node = (node or {}).get(key)
    return node


def pod_templates(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field, pod spec) of every pod a resource starts. A FlinkDeployment's JobManager and TaskManager
    templates are its ``spec.podTemplate`` with the role's own template merged over it, as the operator does."""
    kind = doc.get("kind")
    if kind in WORKLOAD_TEMPLATES:
        field = WORKLOAD_TEMPLATES[kind]
        return [(f"{field}.spec", _at(doc, field + ".spec") or {})]
    if kind != "FlinkDeployment":
        return []
    base = _at(doc, "spec.podTemplate.spec") or {}
    out = []
    for role in ("jobManager", "taskManager"):
        own = _at(doc, f"spec.{role}.podTemplate.spec")
        field = f"spec.{role}.podTemplate.spec" if own else "spec.podTemplate.spec"
        out.append((field, _merge_pod(base, own or {})))
    return out


def _merge_pod(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **own}
    merged["securityContext"] = {**base.get("securityContext", {}), **own.get("securityContext", {})}
    for key in ("containers", "initContainers", "volumes"):
        by_name = {c["name"]: c for c in base.get(key, [])}
        for c in own.get(key, []):
            by_name[c["name"]] = {**by_name.get(c["name"], {}), **c}
        merged[key] = list(by_name.values())
    return merged


def writable_dirs(doc: dict[str, Any]) -> list[str]:
    """Directories a resource's main process writes to at run time, each of which must be a mounted volume."""
    if doc.get("kind") != "FlinkDeployment":
        return ["/tmp"]
    conf = _at(doc, "spec.flinkConfiguration") or {}
    tmp_dirs = [d for d in re.split(r"[,:;]", conf.get("io.tmp.dirs", "/tmp")) if d]
    return ["/tmp", conf.get("kubernetes.flink.log.dir", FLINK_LOG_DIR_DEFAULT), *tmp_dirs]


def check_pod_security(doc: dict[str, Any], source: str) -> list[Problem]:
    """The pod security settings of every pod ``doc`` starts (``POD_SECURITY``)."""
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name', '?')}"
    problems: list[Problem] = []

    def need(ok: bool, field: str, message: str) -> None:
        if not ok:
            problems.append(Problem(source, name, field, message))

    main = "flink-main-container" if doc.get("kind") == "FlinkDeployment" else None
    for field, pod in pod_templates(doc):
        pod_ctx = pod.get("securityContext") or {}
        need(pod_ctx.get("runAsNonRoot") is True, f"{field}.securityContext.runAsNonRoot", "must be true")
        for key in ("runAsUser", "runAsGroup"):
            need(isinstance(pod_ctx.get(key), int) and pod_ctx[key] > 0, f"{field}.securityContext.{key}",
                 "must be a fixed non-root id (the image's user)")
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        containers = [("containers", c) for c in pod.get("containers") or []]
        containers += [("initContainers", c) for c in pod.get("initContainers") or []]
        need(bool(containers), f"{field}.containers", "no container")
        for group, c in containers:
            where = f"{field}.{group}[{c.get('name')}]"
            ctx = c.get("securityContext") or {}
            seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
            need(seccomp == "RuntimeDefault", f"{where}.securityContext.seccompProfile", "must be RuntimeDefault")
            need(ctx.get("readOnlyRootFilesystem") is True, f"{where}.securityContext.readOnlyRootFilesystem",
                 "must be true")
            need(ctx.get("allowPrivilegeEscalation") is False, f"{where}.securityContext.allowPrivilegeEscalation",
                 "must be false")
            need(not ctx.get("privileged"), f"{where}.securityContext.privileged", "must not be true")
            need("ALL" in ((ctx.get("capabilities") or {}).get("drop") or []),
                 f"{where}.securityContext.capabilities.drop", "must drop ALL")
            need(not (ctx.get("capabilities") or {}).get("add"), f"{where}.securityContext.capabilities.add",
                 "must add none")
            need(ctx.get("runAsUser", 1) != 0, f"{where}.securityContext.runAsUser", "must not be root")
            mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
            for path, volume in mounts.items():
                need(volume in volumes, f"{where}.volumeMounts[{path}]", f"volume {volume!r} is not in the pod")
            if group == "containers" and (main is None or c.get("name") == main):
                for path in writable_dirs(doc):
                    need(path in mounts and "emptyDir" in volumes.get(mounts[path], {}),
                         f"{where}.volumeMounts", f"{path} is written at run time: it needs an emptyDir mounted")
    return list(dict.fromkeys(problems))   # a template both Flink roles share is reported once


# --- schemas ----------------------------------------------------------------------------------------------

NODE_KINDS = ("KafkaTopic", "PodMonitor", "PrometheusRule", "NetworkPolicy", "Deployment", "Job", "ConfigMap")


def check_with_node(docs: list[tuple[str, dict[str, Any]]]) -> list[Problem]:
    """The kinds of ``NODE_KINDS`` against kubernetes-models' schemas (node)."""
    if not docs:
        return []
    if not (NODE_VALIDATOR / "node_modules").is_dir():
        raise ValidationError(f"{NODE_VALIDATOR}: node_modules missing: run `make setup` (npm ci)")
    out = subprocess.run(["node", "validate.mjs"], cwd=NODE_VALIDATOR, input=json.dumps([d for _, d in docs]),
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise ValidationError(f"node validate.mjs failed: {out.stderr.strip()[:300]}")
    problems = []
    for (source, _), line in zip(docs, out.stdout.splitlines()):
        result = json.loads(line)
        if not result["ok"]:
            problems.append(Problem(source, f"{result['kind']}/{result['name']}", "spec", result["error"]))
    return problems


def validate_documents(docs: list[tuple[str, dict[str, Any]]], s: Settings) -> list[Problem]:
    """Every check for (source, resource) pairs."""
    schema = None
    problems: list[Problem] = []
    others = []
    for source, doc in docs:
        kind = doc.get("kind")
        if kind == "FlinkDeployment":
            schema = schema or flink_deployment_schema(s)
            problems += check_flink_deployment(doc, source, schema)
        elif kind in NODE_KINDS:
            others.append((source, doc))
        problems += check_pod_security(doc, source)
    return problems + check_with_node(others)


def validate_overlays(s: Settings, overlays: list[Path]) -> list[Problem]:
    docs = []
    for overlay in overlays:
        rel = str(overlay.relative_to(PROJECT_ROOT)) if overlay.is_relative_to(PROJECT_ROOT) else str(overlay)
        docs += [(rel, d) for d in render(overlay)]
    return validate_documents(docs, s)


def overlays() -> list[Path]:
    return sorted(p for p in (PROJECT_ROOT / "k8s" / "overlays").iterdir() if (p / "kustomization.yaml").exists())
