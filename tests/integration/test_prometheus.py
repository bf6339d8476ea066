"""The local stack's Prometheus: started by `tickflow stack up`, the alert rules of k8s/ loaded, the connector's
/metrics endpoint scraped (docs/operations.md, "Monitoring locally")."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import pytest
import yaml

from connectors.health import start_health_server
from connectors.metrics import ConnectorMetrics
from tickflow import k8s_manifests, stack
from tickflow.processes import wait_until


def api(s, path: str, **params: str) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{s.prometheus_url}/api/v1/{path}{query}", timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]


class _Healthy:
    """A connector service as the health endpoint asks it, always well."""

    def liveness(self):
        return True, {"status": "ok"}

    def readiness(self):
        return True, {"status": "ok"}

    def health(self):
        return {"status": "ok"}


@pytest.fixture
def connector_endpoint(running_stack):
    """The connector's real health and metrics endpoint on the port the stack's Prometheus scrapes, serving
    a registry where polygon is the active, connected provider."""
    metrics = ConnectorMetrics()
    metrics.active.labels(provider="polygon").set(1)
    metrics.connected.labels(provider="polygon").set(1)
    metrics.messages_out.labels(provider="polygon", topic="md.raw.trades").inc(42)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = asyncio.run_coroutine_threadsafe(
        start_health_server(_Healthy(), metrics, running_stack.host, running_stack.connector_health_port),
        loop).result(timeout=10)
    yield metrics
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_stack_status_shows_prometheus_running(running_stack):
    [(name, state, endpoint)] = stack.status(running_stack, ["prometheus"])
    assert state.startswith("running (pid") and endpoint.startswith(running_stack.prometheus_url)
    r = subprocess.run([sys.executable, "-m", "tickflow.cli", "stack", "status", "prometheus", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["state"].startswith("running")


def test_the_alert_rules_of_k8s_are_loaded(running_stack):
    source = yaml.safe_load(k8s_manifests.ALERT_RULES.read_text())
    expected = {g["name"]: {r["alert"] for r in g["rules"]} for g in source["groups"]}
    groups = api(running_stack, "rules")["groups"]
    loaded = {g["name"]: {r["name"] for r in g["rules"]} for g in groups}
    assert loaded == expected
    assert {g["file"] for g in groups} == {str(k8s_manifests.ALERT_RULES)}
    assert all(r["health"] != "err" for g in groups for r in g["rules"]), groups


def test_the_connector_and_prometheus_itself_are_scraped(running_stack, connector_endpoint):
    def scraped() -> bool:
        targets = api(running_stack, "targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets if t["labels"]["job"] in ("connector", "prometheus")}
        return health == {"connector": "up", "prometheus": "up"}

    wait_until(scraped, 60, "Prometheus to scrape the connector and itself", interval=1)
    targets = api(running_stack, "targets")["activeTargets"]
    urls = {t["labels"]["job"]: set() for t in targets}
    for t in targets:
        urls[t["labels"]["job"]].add(t["scrapeUrl"])
    host, metrics = running_stack.host, running_stack.flink_metrics_port
    assert urls["flink"] == {f"http://{host}:{metrics}/metrics", f"http://{host}:{metrics + 1}/metrics"}
    assert urls["connector"] == {f"http://{host}:{running_stack.connector_health_port}/metrics"}

    def sample() -> list:
        return api(running_stack, "query", query='tickflow_connector_messages_out_total{job="connector"}')["result"]

    wait_until(lambda: bool(sample()), 30, "the connector's counter in Prometheus", interval=1)
    [series] = sample()
    assert series["metric"]["provider"] == "polygon" and float(series["value"][1]) == 42
    # the disconnection alert's expression over the scraped gauges: the active provider is connected
    expr = yaml.safe_load(k8s_manifests.ALERT_RULES.read_text())["groups"][1]["rules"][0]["expr"]
    assert api(running_stack, "query", query=expr)["result"] == []
