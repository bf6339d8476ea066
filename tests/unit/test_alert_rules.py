"""The alert rules (k8s/rules/tickflow.rules.yaml) pass `promtool check rules` and their unit tests
(`promtool test rules`), and every alert is expected to fire in at least one of those tests.

promtool comes with Debian's prometheus package, which `make setup` installs: without it this fails.
"""
from __future__ import annotations

import shutil
import subprocess

import yaml

from tickflow import k8s_manifests, stack
from tickflow.runtime import config

RULES = k8s_manifests.ALERT_RULES
RULE_TESTS = RULES.with_name("tickflow.rules.test.yaml")


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool not found: run `make setup` (it installs Debian's prometheus package)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def alerts() -> set[str]:
    return {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}


def test_the_rules_are_valid():
    r = promtool("check", "rules", str(RULES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in r.stdout


def test_the_rules_unit_tests_pass():
    r = promtool("test", "rules", str(RULE_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_alert_is_expected_to_fire_in_a_rule_test():
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]
    fired = {case["alertname"] for t in tests["tests"] for case in t.get("alert_rule_test", [])
             if case.get("exp_alerts")}
    assert fired == alerts(), alerts() ^ fired


def test_the_local_prometheus_and_the_kubernetes_rule_load_the_same_file():
    assert f"rule_files:\n  - {RULES}" in stack.prometheus_config(config.load())
    rule = yaml.safe_load(k8s_manifests.prometheus_rule())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
