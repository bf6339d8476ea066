"""The Kafka transaction timeout of the exactly-once sinks against every configuration a job runs under."""
from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from tickflow import k8s_validation, stack
from tickflow.k8s_manifests import flatten
from tickflow.runtime import config, flink_runtime
from tickflow.runtime.config import PROJECT_ROOT
from tickflow.runtime.kafka_tables import exactly_once_sink_options
from tickflow.runtime.kafka_transactions import (
    RECOVERY_ALLOWANCE_MS,
    TRANSACTION_TIMEOUT_MS,
    duration_ms,
    longest_restart_backoff_ms,
    timeout_problems,
    transaction_budget,
)

LOCAL_CONFIG = PROJECT_ROOT / "flink-conf" / "local" / "config.yaml"
PRODUCTION_CONFIG = PROJECT_ROOT / "flink-conf" / "production" / "config.yaml"
PRODUCTION_BROKER = PROJECT_ROOT / "k8s" / "kafka-broker-config.yaml"


def flink_conf(path) -> dict[str, str]:
    return flatten(yaml.safe_load(path.read_text()))


def production_broker_max_ms() -> int:
    return int(yaml.safe_load(PRODUCTION_BROKER.read_text())["transaction.max.timeout.ms"])


def sink_timeout_ms() -> int:
    """The timeout every job's Kafka sink asks for, as the sink options carry it."""
    options = exactly_once_sink_options("md.bars", "broker:9092", "tickflow-test")
    [value] = re.findall(r"'properties\.transaction\.timeout\.ms' = '(\d+)'", options)
    return int(value)


def deployed_configurations() -> list[tuple[str, dict[str, str]]]:
    """Every FlinkDeployment's flinkConfiguration, as each overlay renders it."""
    out = []
    for overlay in k8s_validation.overlays():
        for doc in k8s_validation.render(overlay):
            if doc["kind"] == "FlinkDeployment":
                out.append((f"{overlay.name}/{doc['metadata']['name']}", doc["spec"]["flinkConfiguration"]))
    return out


def test_the_sinks_timeout_fits_the_local_cluster_and_the_local_broker():
    assert timeout_problems(sink_timeout_ms(), flink_conf(LOCAL_CONFIG), stack.KAFKA_TRANSACTION_MAX_TIMEOUT_MS) == []


def test_the_sinks_timeout_fits_a_local_minicluster_run_and_the_local_broker():
    s = dataclasses.replace(config.load(), jars_in_flink_lib=True)   # the jars are not what this is about
    conf = flink_runtime.job_configuration(s, "any-job", on_cluster=False)
    assert timeout_problems(sink_timeout_ms(), conf, stack.KAFKA_TRANSACTION_MAX_TIMEOUT_MS) == []


def test_the_sinks_timeout_fits_production_and_the_production_brokers():
    assert timeout_problems(sink_timeout_ms(), flink_conf(PRODUCTION_CONFIG), production_broker_max_ms()) == []


def test_the_sinks_timeout_fits_every_deployed_job_as_the_overlays_render_it():
    deployed = deployed_configurations()
    assert {name.split("/")[0] for name, _ in deployed} == {"dev", "prod"}
    for name, conf in deployed:
        assert timeout_problems(sink_timeout_ms(), conf, production_broker_max_ms()) == [], name


def test_every_kafka_sink_takes_its_timeout_from_the_shared_sink_options():
    """A job that set its own transaction timeout, or built a Kafka sink by hand, would escape the checks above."""
    assert sink_timeout_ms() == TRANSACTION_TIMEOUT_MS
    sources = [p for d in ("jobs", "tickflow", "sql") for p in (PROJECT_ROOT / d).rglob("*")
               if p.suffix in (".py", ".sql", ".java") and p.is_file()]
    assert len(sources) > 20
    for path in sources:
        text = path.read_text()
        rel = path.relative_to(PROJECT_ROOT).as_posix()
        if rel not in ("tickflow/runtime/kafka_tables.py", "tickflow/runtime/kafka_transactions.py"):
            assert "transaction.timeout.ms" not in text and "sink.delivery-guarantee" not in text, rel
        assert "KafkaSink" not in text, f"{rel} builds a DataStream KafkaSink"


def test_the_old_values_break_the_rule_so_the_check_can_fail():
    """10 min checkpoints with a 10 min transaction timeout: a slow checkpoint and a failure lose data."""
    old_production = {**flink_conf(PRODUCTION_CONFIG), "execution.checkpointing.timeout": "10min"}
    [problem] = timeout_problems(600_000, old_production, 900_000)
    assert problem.startswith("transaction.timeout.ms 600000 < 3452000 required: 4 × checkpoint gap 605000 + "
                              "checkpoint timeout 600000 + restart back-off 132000 + recovery 300000")
    assert timeout_problems(600_000, flink_conf(LOCAL_CONFIG), 900_000) == [
        "transaction.timeout.ms 600000 < 606500 required: 1 × checkpoint gap 120500 + checkpoint timeout 120000 "
        "+ restart back-off 66000 + recovery 300000"]


def test_a_timeout_above_the_broker_maximum_is_refused():
    assert timeout_problems(TRANSACTION_TIMEOUT_MS, flink_conf(LOCAL_CONFIG), 900_000) == [
        f"transaction.timeout.ms {TRANSACTION_TIMEOUT_MS} > the broker's transaction.max.timeout.ms 900000: "
        "the producer would be refused"]


def test_the_budget_adds_one_gap_per_checkpoint_that_may_fail_before_the_commit():
    conf = {"execution.checkpointing.interval": "10 s", "execution.checkpointing.timeout": "3 min",
            "execution.checkpointing.min-pause": "5s", "execution.checkpointing.tolerable-failed-checkpoints": "3",
            "restart-strategy.type": "exponential-delay", "restart-strategy.exponential-delay.max-backoff": "2min",
            "restart-strategy.exponential-delay.jitter-factor": "0.1"}
    budget = transaction_budget(conf)
    assert budget.checkpoint_gap_ms == 185_000                       # a slow checkpoint, then the min pause
    assert budget.restart_backoff_ms == 132_000                      # 2 min + 10 % jitter
    assert budget.required_timeout_ms == 4 * 185_000 + 180_000 + 132_000 + RECOVERY_ALLOWANCE_MS
    fast = transaction_budget({**conf, "execution.checkpointing.interval": "1h"})
    assert fast.checkpoint_gap_ms == 3_600_000                       # checkpoints are rarer than they are slow


def test_unset_keys_take_flinks_defaults():
    budget = transaction_budget({"execution.checkpointing.interval": "2s"})
    assert (budget.checkpoint_timeout_ms, budget.min_pause_ms, budget.tolerable_failed_checkpoints,
            budget.restart_backoff_ms) == (600_000, 0, 0, 66_000)
    with pytest.raises(ValueError, match="no execution.checkpointing.interval"):
        transaction_budget({})


@pytest.mark.parametrize("conf,expected", [
    ({"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "30 s"}, 30_000),
    ({"restart-strategy.type": "failure-rate"}, 1_000),
    ({"restart-strategy.type": "none"}, 0),
    ({"restart-strategy.type": "exponential-delay", "restart-strategy.exponential-delay.max-backoff": "5 min",
      "restart-strategy.exponential-delay.jitter-factor": "0"}, 300_000),
])
def test_the_longest_restart_backoff_of_each_strategy(conf, expected):
    assert longest_restart_backoff_ms(conf) == expected


@pytest.mark.parametrize("text,ms", [("10s", 10_000), ("2 min", 120_000), ("2min", 120_000), ("500ms", 500),
                                     ("500 ms", 500), ("1h", 3_600_000), ("250", 250), ("1 d", 86_400_000)])
def test_flink_durations(text, ms):
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "ten s", "10 fortnights", "-5s", "1.5s"])
def test_what_is_not_a_flink_duration_is_refused(text):
    with pytest.raises(ValueError, match="not a Flink duration"):
        duration_ms(text)
