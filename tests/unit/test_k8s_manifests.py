"""The Kubernetes resources: generated from their sources, valid against their CRDs, naming real jobs."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from tickflow import config, k8s_manifests, k8s_validation
from tickflow.config import PROJECT_ROOT

S = config.load()


def base_docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((k8s_manifests.BASE / name).read_text()) if d]


def test_committed_resources_are_what_the_sources_generate():
    assert k8s_manifests.generate(check=True) == [], "run `tickflow k8s generate`"


def test_kafka_topics_match_the_topic_registry():
    registry = yaml.safe_load((PROJECT_ROOT / "schemas" / "topics.yaml").read_text())["topics"]
    topics = {d["spec"]["topicName"]: d["spec"] for d in base_docs("kafka-topics.yaml")}
    assert set(topics) == set(registry)
    for name, spec in topics.items():
        assert spec["partitions"] == registry[name]["partitions"]
        assert spec["config"] == {k: str(v) for k, v in (registry[name].get("config") or {}).items()}


def test_every_flink_deployment_carries_the_production_configuration():
    conf = k8s_manifests.production_configuration()
    assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert conf["state.backend.type"] == "rocksdb" and conf["state.backend.incremental"] == "true"
    assert conf["high-availability.type"] == "kubernetes"
    assert conf["execution.checkpointing.savepoint-dir"].startswith("s3://")
    assert "PrometheusReporterFactory" in conf["metrics.reporter.prom.factory.class"]
    assert conf["python.execution-mode"] == "process"
    for name in k8s_manifests.JOBS:
        spec = base_docs(f"flink-{name}.yaml")[0]["spec"]
        assert spec["flinkConfiguration"] == conf
        assert spec["job"]["upgradeMode"] == "savepoint"


def test_job_arguments_are_the_ones_tickflow_submit_passes():
    for name, job in k8s_manifests.JOBS.items():
        args = base_docs(f"flink-{name}.yaml")[0]["spec"]["job"]["args"]
        assert args == ["-py", f"/opt/tickflow/jobs/{job.module}.py", "-pyfs", "/opt/tickflow", *job.args, "--cluster"]


def test_image_and_manifests_name_the_flink_version_of_pom_xml():
    version = re.search(r"<flink.version>([\d.]+)</flink.version>", (PROJECT_ROOT / "pom.xml").read_text()).group(1)
    dockerfile = (PROJECT_ROOT / "k8s" / "image" / "Dockerfile").read_text()
    assert f"flink:{version}-" in dockerfile
    assert k8s_manifests.FLINK_PYTHON_JAR.endswith(f"flink-python-{version}.jar")
    for src in re.findall(r"^COPY (?!--from)(\S+) ", dockerfile, re.M):
        assert (PROJECT_ROOT / src).exists(), f"the Dockerfile copies {src}, which does not exist"


def test_the_overlays_render_and_every_resource_is_valid():
    assert k8s_validation.validate_overlays(S, k8s_validation.overlays()) == []


def rendered_prod() -> list[dict]:
    return k8s_validation.render(PROJECT_ROOT / "k8s" / "overlays" / "prod")


def problems_after(change) -> list[str]:
    docs = copy.deepcopy(rendered_prod())
    change(docs)
    return [str(p) for p in k8s_validation.validate_documents([("k8s/overlays/prod", d) for d in docs], S)]


def flink(docs, name="indicators") -> dict:
    return next(d for d in docs if d["kind"] == "FlinkDeployment" and d["metadata"]["name"] == name)


def test_a_missing_job_module_is_named_with_file_resource_and_field():
    def change(docs):
        flink(docs)["spec"]["job"]["args"][1] = "/opt/tickflow/jobs/indicatorz.py"
    assert problems_after(change) == [
        "k8s/overlays/prod: FlinkDeployment/indicators: spec.job.args: jobs/indicatorz.py does not exist"]


def test_arguments_the_job_does_not_accept_are_refused():
    def change(docs):
        flink(docs)["spec"]["job"]["args"].insert(4, "--no-such-flag")
    [problem] = problems_after(change)
    assert problem.startswith("k8s/overlays/prod: FlinkDeployment/indicators: spec.job.args: jobs/indicators.py "
                              "does not accept")


def test_a_wrong_flink_version_fails_against_the_crd_and_the_project():
    def change(docs):
        flink(docs)["spec"]["flinkVersion"] = "v2_9"
    found = problems_after(change)
    assert any("spec.flinkVersion: 'v2_9' is not one of" in p for p in found)
    assert any("spec.flinkVersion: 'v2_9', but the project runs Flink v2_2 (pom.xml)" in p for p in found)


def test_savepoint_upgrades_without_a_savepoint_directory_are_refused():
    def change(docs):
        del flink(docs)["spec"]["flinkConfiguration"]["execution.checkpointing.savepoint-dir"]
    assert problems_after(change) == [
        "k8s/overlays/prod: FlinkDeployment/indicators: spec.flinkConfiguration: "
        "upgradeMode savepoint needs execution.checkpointing.savepoint-dir"]


def test_a_field_of_the_wrong_type_fails_the_crd_schema():
    def change(docs):
        flink(docs)["spec"]["job"]["parallelism"] = "eight"
        next(d for d in docs if d["kind"] == "KafkaTopic")["spec"]["partitions"] = "four"
    found = problems_after(change)
    assert "k8s/overlays/prod: FlinkDeployment/indicators: spec.job.parallelism: 'eight' is not of type 'integer'" in found
    assert any(p.startswith("k8s/overlays/prod: KafkaTopic/") and "partitions must be integer" in p for p in found)


@pytest.mark.parametrize("overlay,parallelism,replicas", [("dev", 1, 1), ("prod", 8, 3)])
def test_overlays_set_their_environment(overlay, parallelism, replicas):
    docs = k8s_validation.render(PROJECT_ROOT / "k8s" / "overlays" / overlay)
    mdp = flink(docs, "market-data-processor")
    assert mdp["spec"]["job"]["parallelism"] == parallelism
    assert {d["spec"]["replicas"] for d in docs if d["kind"] == "KafkaTopic"} == {replicas}
    assert {d["metadata"]["namespace"] for d in docs} == {"tickflow" if overlay == "prod" else "tickflow-dev"}
    images = {c["image"] for d in docs if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]}
    images |= {d["spec"]["image"] for d in docs if d["kind"] == "FlinkDeployment"}
    assert len(images) == 1 and images.pop().endswith(":dev" if overlay == "dev" else ":0.1.0")


def test_the_dashboard_and_alerts_query_only_metrics_the_connectors_and_jobs_export():
    import json

    from connectors.metrics import ConnectorMetrics

    exported = set()
    for family in ConnectorMetrics().registry.collect():
        exported.add(family.name)
        if family.type == "counter":
            exported.add(family.name + "_total")
    dashboard = json.loads((k8s_manifests.BASE / "dashboards" / "tickflow.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [r["expr"] for d in base_docs("monitoring.yaml") if d["kind"] == "PrometheusRule"
              for g in d["spec"]["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in re.findall(r"tickflow_connector_\w+", e)}
    assert used and used <= exported, used - exported
    from jobs.data_quality import JVM_METRICS, METRICS, PROMETHEUS_OPERATOR_PREFIX

    jobs_export = {PROMETHEUS_OPERATOR_PREFIX + m for m in {**METRICS, **JVM_METRICS}}
    used_jobs = {m for e in exprs for m in re.findall(r"flink_taskmanager_job_task_operator_tickflow_\w+", e)}
    assert used_jobs == jobs_export, used_jobs ^ jobs_export  # every job metric is shown, none is invented
    assert all(re.fullmatch(r"flink_(jobmanager|taskmanager)_\w+", m)
               for e in exprs for m in re.findall(r"\bflink_\w+", e))
