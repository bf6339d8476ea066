"""The Kubernetes resources: generated from their sources, valid against their CRDs, naming real jobs."""
from __future__ import annotations

import copy
import re

import pytest
import yaml

from tickflow import k8s_manifests, k8s_validation
from tickflow.runtime import config
from tickflow.runtime.config import PROJECT_ROOT

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
    assert ("k8s/overlays/prod: FlinkDeployment/indicators: spec.job.parallelism: 'eight' is not of type 'integer'"
            in found)
    assert any(p.startswith("k8s/overlays/prod: KafkaTopic/") and "partitions must be integer" in p for p in found)


@pytest.mark.parametrize("overlay,parallelism,replicas", [("dev", 1, 1), ("prod", 8, 3)])
def test_overlays_set_their_environment(overlay, parallelism, replicas):
    docs = k8s_validation.render(PROJECT_ROOT / "k8s" / "overlays" / overlay)
    mdp = flink(docs, "market-data-processor")
    assert mdp["spec"]["job"]["parallelism"] == parallelism
    assert {d["spec"]["replicas"] for d in docs if d["kind"] == "KafkaTopic"} == {replicas}
    assert {d["metadata"]["namespace"] for d in docs} == {"tickflow" if overlay == "prod" else "tickflow-dev"}
    images = {c["image"] for d in docs if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]}
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
    exprs += [r["expr"] for d in base_docs("alert-rules.yaml") if d["kind"] == "PrometheusRule"
              for g in d["spec"]["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in re.findall(r"tickflow_connector_\w+", e)}
    assert used and used <= exported, used - exported
    from jobs.data_quality import JVM_METRICS, METRICS, PROMETHEUS_OPERATOR_PREFIX

    jobs_export = {PROMETHEUS_OPERATOR_PREFIX + m for m in {**METRICS, **JVM_METRICS}}
    used_jobs = {m for e in exprs for m in re.findall(r"flink_taskmanager_job_task_operator_tickflow_\w+", e)}
    assert used_jobs == jobs_export, used_jobs ^ jobs_export  # every job metric is shown, none is invented
    assert all(re.fullmatch(r"flink_(jobmanager|taskmanager)_\w+", m)
               for e in exprs for m in re.findall(r"\bflink_\w+", e))


# --- how the pods run -------------------------------------------------------------------------------------

def connector(docs) -> dict:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "connector-polygon")


def test_the_image_runs_as_the_user_the_pods_name():
    dockerfile = (PROJECT_ROOT / "k8s" / "image" / "Dockerfile").read_text()
    [user] = re.findall(r"^USER (\S+)\s*$", dockerfile, re.M)[-1:]
    assert user == f"{k8s_manifests.RUN_AS_USER}:{k8s_manifests.RUN_AS_GROUP}"
    assert f'= "{k8s_manifests.RUN_AS_USER}:{k8s_manifests.RUN_AS_GROUP}"' in dockerfile   # the build checks the ids
    for mount_point in (k8s_manifests.FLINK_LOG_DIR, k8s_manifests.FLINK_WORK_DIR):
        assert mount_point in dockerfile


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_pod_runs_non_root_read_only_unprivileged(overlay):
    docs = k8s_validation.render(PROJECT_ROOT / "k8s" / "overlays" / overlay)
    pods = [(d["kind"], field, pod) for d in docs for field, pod in k8s_validation.pod_templates(d)]
    assert {kind for kind, _, _ in pods} == {"Deployment", "FlinkDeployment"}
    assert len(pods) == len(k8s_manifests.CONNECTORS) + 2 * len(k8s_manifests.JOBS)
    for _, _, pod in pods:
        assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 9999, "runAsGroup": 9999,
                                          "fsGroup": 9999, "seccompProfile": {"type": "RuntimeDefault"}}
        for c in pod["containers"]:
            assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert [p for d in docs for p in k8s_validation.check_pod_security(d, overlay)] == []


def test_flink_writes_only_to_its_mounted_empty_dirs():
    conf = k8s_manifests.production_configuration()
    assert conf["io.tmp.dirs"] == k8s_manifests.FLINK_WORK_DIR
    assert "kubernetes.flink.log.dir" not in conf            # its default, /opt/flink/log, is mounted
    spec = base_docs("flink-indicators.yaml")[0]["spec"]["podTemplate"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    empty_dirs = {v["name"] for v in spec["volumes"] if v == {"name": v["name"], "emptyDir": {}}}
    assert {p: mounts.get(p) in empty_dirs for p in ("/tmp", "/opt/flink/log", "/opt/flink/work")} == \
        {"/tmp": True, "/opt/flink/log": True, "/opt/flink/work": True}


def test_pods_that_lose_a_security_setting_are_refused_by_field():
    def change(docs):
        c = connector(docs)["spec"]["template"]["spec"]["containers"][0]
        del c["securityContext"]["readOnlyRootFilesystem"]
        c["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
        connector(docs)["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
        flink(docs)["spec"]["podTemplate"]["spec"]["securityContext"]["seccompProfile"]["type"] = "Unconfined"
    found = problems_after(change)
    containers = "spec.template.spec.containers[connector]"
    assert f"k8s/overlays/prod: Deployment/connector-polygon: {containers}.securityContext.readOnlyRootFilesystem: " \
           "must be true" in found
    assert f"k8s/overlays/prod: Deployment/connector-polygon: {containers}.securityContext.capabilities.add: " \
           "must add none" in found
    assert "k8s/overlays/prod: Deployment/connector-polygon: spec.template.spec.securityContext.runAsUser: " \
           "must be a fixed non-root id (the image's user)" in found
    assert "k8s/overlays/prod: FlinkDeployment/indicators: spec.podTemplate.spec.containers[flink-main-container]" \
           ".securityContext.seccompProfile: must be RuntimeDefault" in found
    assert len(found) == 4   # once, although the Flink template serves the JobManager and the TaskManagers


def test_a_role_template_that_adds_a_container_is_held_to_the_same_settings():
    def change(docs):
        flink(docs)["spec"]["taskManager"]["podTemplate"] = {"spec": {"initContainers": [{"name": "fetch"}]}}
    found = problems_after(change)
    assert found and all(p.startswith("k8s/overlays/prod: FlinkDeployment/indicators: "
                                      "spec.taskManager.podTemplate.spec.initContainers[fetch].") for p in found)


def test_a_directory_flink_writes_without_an_empty_dir_is_refused():
    def change(docs):
        flink(docs)["spec"]["flinkConfiguration"]["io.tmp.dirs"] = "/var/flink-tmp"
        mounts = connector(docs)["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        mounts[:] = [m for m in mounts if m["mountPath"] != "/tmp"]
    assert sorted(problems_after(change)) == [
        "k8s/overlays/prod: Deployment/connector-polygon: spec.template.spec.containers[connector].volumeMounts: "
        "/tmp is written at run time: it needs an emptyDir mounted",
        "k8s/overlays/prod: FlinkDeployment/indicators: spec.podTemplate.spec.containers[flink-main-container]"
        ".volumeMounts: /var/flink-tmp is written at run time: it needs an emptyDir mounted"]


def test_the_connector_probes_liveness_and_readiness_apart_and_reads_the_production_providers():
    c = connector(k8s_validation.render(PROJECT_ROOT / "k8s" / "overlays" / "prod"))["spec"]["template"]["spec"]
    [main] = c["containers"]
    health = {"path": None, "port": "health"}
    assert {k: {**health, **main[k]["httpGet"]} for k in ("startupProbe", "livenessProbe", "readinessProbe")} == {
        "startupProbe": {"path": "/livez", "port": "health"},
        "livenessProbe": {"path": "/livez", "port": "health"},
        "readinessProbe": {"path": "/readyz", "port": "health"}}
    startup = main["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300    # position recovery may take minutes
    assert main["ports"] == [{"name": "health", "containerPort": 9464}]
    args = main["args"]
    assert args[args.index("--config") + 1] == "/opt/tickflow/connectors/providers.production.yaml"
    assert c["automountServiceAccountToken"] is False


def test_the_provider_config_component_mounts_a_generated_config_map_over_the_images_file(tmp_path):
    import os
    import shutil

    overlay = tmp_path / "overlay"
    overlay.mkdir()
    shutil.copy(PROJECT_ROOT / "connectors" / "providers.yaml", overlay / "providers.production.yaml")

    def rel(p):
        return os.path.relpath(PROJECT_ROOT / p, overlay)   # kustomize takes no absolute roots

    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": "tickflow",
        "resources": [rel("k8s/overlays/prod")], "components": [rel("k8s/components/provider-config")],
        "configMapGenerator": [{"name": "tickflow-providers", "files": ["providers.production.yaml"]}]}))
    docs = k8s_validation.render(overlay)
    [config_map] = [d for d in docs
                    if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("tickflow-providers")]
    pod = connector(docs)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "providers")
    # hashed: a new file restarts the pod
    assert volume["configMap"]["name"] == config_map["metadata"]["name"] != "tickflow-providers"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "providers")
    assert mount == {"name": "providers", "mountPath": "/opt/tickflow/connectors/providers.production.yaml",
                     "subPath": "providers.production.yaml", "readOnly": True}
    assert k8s_validation.validate_documents([("overlay", d) for d in docs], S) == []


# --- network policies -------------------------------------------------------------------------------------

def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def ingress_allowed(policies: list[dict], to: dict, to_ns: str, source: dict, source_ns: str, port: int) -> bool:
    """Whether Kubernetes lets ``source`` (pod labels, namespace) reach ``to`` on TCP ``port``: the pod is
    isolated by any policy that selects it and then admits what the union of their rules admits."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == to_ns and _matches(p["spec"]["podSelector"], to)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            if rule.get("ports") and not any(p["port"] == port and p.get("protocol", "TCP") == "TCP"
                                             for p in rule["ports"]):
                continue
            if "from" not in rule:
                return True
            for peer in rule["from"]:
                ns_ok = (_matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": source_ns})
                         if "namespaceSelector" in peer else source_ns == to_ns)
                pod_ok = _matches(peer["podSelector"], source) if "podSelector" in peer else True
                if ns_ok and pod_ok:
                    return True
    return False


def test_the_network_policies_admit_only_what_each_pod_needs():
    docs = rendered_prod()
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert {p["metadata"]["name"] for p in policies} >= {
        "tickflow-default-deny-ingress", "tickflow-flink-rest", "tickflow-flink-metrics",
        "tickflow-connector-metrics", "tickflow-kafka-clients"}
    ns = "tickflow"
    # the pods as they come up: the templates' labels, plus what the operator adds to Flink's
    conn = connector(docs)["spec"]["template"]["metadata"]["labels"]
    labels = {name: flink(docs, name)["spec"]["podTemplate"]["metadata"]["labels"] for name in k8s_manifests.JOBS}
    jm = {n: {**l, "app": n, "component": "jobmanager", "type": "flink-native-kubernetes"} for n, l in labels.items()}
    tm = {n: {**l, "app": n, "component": "taskmanager", "type": "flink-native-kubernetes"} for n, l in labels.items()}
    broker = {"strimzi.io/cluster": "tickflow", "strimzi.io/kind": "Kafka", "strimzi.io/name": "tickflow-kafka",
              "strimzi.io/pool-name": "brokers", "app.kubernetes.io/part-of": "strimzi-tickflow"}
    operator = {"app.kubernetes.io/name": "flink-kubernetes-operator"}
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    stranger = {"app": "something-else"}

    def allowed(to, src, port, src_ns=ns):
        return ingress_allowed(policies, to, ns, src, src_ns, port)

    mdp, ind = jm["market-data-processor"], jm["indicators"]
    # REST: the operator and labelled pods; not a stranger, not the operator's pods elsewhere, not a TaskManager port
    assert allowed(mdp, operator, 8081, "flink-operator")
    assert allowed(mdp, {**stranger, "tickflow/flink-rest-client": "true"}, 8081)
    assert not allowed(mdp, stranger, 8081) and not allowed(mdp, operator, 8081, "default")
    assert not allowed(mdp, operator, 6123, "flink-operator") and not allowed(mdp, conn, 8081)
    # metrics from the monitoring namespace only, on the metrics ports only
    for pod in (mdp, tm["indicators"]):
        assert allowed(pod, prometheus, 9249, "monitoring") and not allowed(pod, prometheus, 9249)
        assert not allowed(pod, prometheus, 6122, "monitoring")
    assert allowed(conn, prometheus, 9464, "monitoring") and not allowed(conn, stranger, 9464)
    assert not allowed(conn, prometheus, 8081, "monitoring")
    # a job's pods reach each other on any port, another job's on none
    assert allowed(mdp, tm["market-data-processor"], 6123) and allowed(tm["market-data-processor"], mdp, 6121)
    assert not allowed(mdp, tm["indicators"], 6123) and not allowed(ind, tm["market-data-processor"], 6124)
    # Kafka's client port from tickflow's pods only
    for client in (conn, jm["storage-writer"], tm["data-quality"]):
        assert allowed(broker, client, 9092)
    assert not allowed(broker, stranger, 9092) and not allowed(broker, conn, 9092, "elsewhere")
    # nothing else reaches a tickflow pod
    for pod in (conn, mdp, tm["indicators"]):
        assert not allowed(pod, stranger, 9092) and not allowed(pod, conn, 443, "default")


def test_a_network_policy_of_the_wrong_shape_fails_its_schema():
    def change(docs):
        deny = next(d for d in docs if d["metadata"]["name"] == "tickflow-default-deny-ingress")
        deny["spec"]["policyTypes"] = "Ingress"
    [problem] = problems_after(change)
    assert problem.startswith("k8s/overlays/prod: NetworkPolicy/tickflow-default-deny-ingress: spec: ") \
        and "policyTypes must be array" in problem
