"""How long the Kafka transactions of tickflow's exactly-once sinks may stay open, and the rule that sizes it.

A sink writes the records between two checkpoint barriers into one Kafka transaction, pre-commits it at
the barrier and commits it once a checkpoint completes. After a failure, the restored job commits the
transactions its last completed checkpoint holds. A transaction the broker has already aborted for its
age (``transaction.timeout.ms``) cannot be committed: its records are lost. So the timeout must outlast
the longest time from a transaction's first record to that commit:

    required = (tolerable failed checkpoints + 1) × checkpoint gap + checkpoint timeout
               + longest restart back-off (jitter included) + recovery allowance
    checkpoint gap = max(checkpoint interval, checkpoint timeout + min pause)

and it must not exceed the broker's ``transaction.max.timeout.ms`` (the producer would be refused).
``docs/fault_tolerance.md`` says why each term is there and how the values were chosen.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Every exactly-once Kafka sink's transaction.timeout.ms (kafka_tables.exactly_once_sink_options). One value
# for every environment: it must fit each one's Flink configuration and each one's broker maximum, which a
# unit test checks (tests/unit/test_transaction_timeout.py).
TRANSACTION_TIMEOUT_MS = 1_800_000

# Restoring the job after the restart back-off: on Kubernetes a JobManager or TaskManager pod rescheduled
# (possibly onto another node, its image pulled), the state fetched from S3, the sources and sinks reopened.
RECOVERY_ALLOWANCE_MS = 300_000

# Flink 2.2's defaults for the keys the rule reads (read from its ConfigOptions), used when a configuration
# does not set them.
FLINK_DEFAULTS = {
    "execution.checkpointing.timeout": "10 min",
    "execution.checkpointing.min-pause": "0 ms",
    "execution.checkpointing.tolerable-failed-checkpoints": "0",
    "restart-strategy.type": "exponential-delay",      # the default once checkpointing is enabled
    "restart-strategy.exponential-delay.max-backoff": "1 min",
    "restart-strategy.exponential-delay.jitter-factor": "0.1",
    "restart-strategy.fixed-delay.delay": "1 s",
    "restart-strategy.failure-rate.delay": "1 s",
}

_UNIT_MS = {
    "ns": 1e-6, "nano": 1e-6, "nanos": 1e-6, "nanosecond": 1e-6, "nanoseconds": 1e-6,
    "us": 1e-3, "µs": 1e-3, "micro": 1e-3, "micros": 1e-3, "microsecond": 1e-3, "microseconds": 1e-3,
    "": 1, "ms": 1, "milli": 1, "millis": 1, "millisecond": 1, "milliseconds": 1,
    "s": 1_000, "sec": 1_000, "secs": 1_000, "second": 1_000, "seconds": 1_000,
    "m": 60_000, "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000,
    "h": 3_600_000, "hour": 3_600_000, "hours": 3_600_000,
    "d": 86_400_000, "day": 86_400_000, "days": 86_400_000,
}


def duration_ms(text: str) -> int:
    """A Flink duration (``10s``, ``2 min``, ``500ms``; a bare number is ms) in ms."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zµ]*)\s*", str(text), re.I)
    if not m or m.group(2).lower() not in _UNIT_MS:
        raise ValueError(f"not a Flink duration: {text!r}")
    return int(int(m.group(1)) * _UNIT_MS[m.group(2).lower()])


@dataclass(frozen=True)
class TransactionBudget:
    """The terms of the rule under one Flink configuration, in ms."""

    checkpoint_interval_ms: int
    checkpoint_timeout_ms: int
    min_pause_ms: int
    tolerable_failed_checkpoints: int
    restart_backoff_ms: int           # the longest delay before a restart, jitter included
    recovery_allowance_ms: int = RECOVERY_ALLOWANCE_MS

    @property
    def checkpoint_gap_ms(self) -> int:
        """The longest time between the triggers of two successive checkpoints."""
        return max(self.checkpoint_interval_ms, self.checkpoint_timeout_ms + self.min_pause_ms)

    @property
    def required_timeout_ms(self) -> int:
        """The shortest transaction timeout under which no pre-committed transaction can expire."""
        return ((self.tolerable_failed_checkpoints + 1) * self.checkpoint_gap_ms + self.checkpoint_timeout_ms
                + self.restart_backoff_ms + self.recovery_allowance_ms)


def longest_restart_backoff_ms(conf: Mapping[str, str]) -> int:
    """The longest delay Flink's restart strategy waits before restarting a failed job (0: no restarts)."""
    flink = {**FLINK_DEFAULTS, **conf}  # every key read here has a default
    strategy = flink["restart-strategy.type"].strip().lower().replace("_", "-")
    if strategy in ("exponential-delay", "exponentialdelay"):
        jitter = float(flink["restart-strategy.exponential-delay.jitter-factor"])
        return int(duration_ms(flink["restart-strategy.exponential-delay.max-backoff"]) * (1 + jitter))
    if strategy in ("fixed-delay", "fixeddelay"):
        return duration_ms(flink["restart-strategy.fixed-delay.delay"])
    if strategy in ("failure-rate", "failurerate"):
        return duration_ms(flink["restart-strategy.failure-rate.delay"])
    if strategy in ("none", "off", "disable"):
        return 0
    raise ValueError(f"restart-strategy.type {strategy!r} is not one the rule knows")


def transaction_budget(conf: Mapping[str, str]) -> TransactionBudget:
    """The rule's terms from a flat Flink configuration (dotted keys, as ``flinkConfiguration`` holds them)."""
    if "execution.checkpointing.interval" not in conf:
        raise ValueError("no execution.checkpointing.interval: without checkpoints no transaction commits")
    flink = {**FLINK_DEFAULTS, **conf}  # the interval is checked above; the other keys have defaults
    return TransactionBudget(
        checkpoint_interval_ms=duration_ms(flink["execution.checkpointing.interval"]),
        checkpoint_timeout_ms=duration_ms(flink["execution.checkpointing.timeout"]),
        min_pause_ms=duration_ms(flink["execution.checkpointing.min-pause"]),
        tolerable_failed_checkpoints=int(flink["execution.checkpointing.tolerable-failed-checkpoints"]),
        restart_backoff_ms=longest_restart_backoff_ms(conf),
    )


def timeout_problems(timeout_ms: int, conf: Mapping[str, str], broker_max_ms: int) -> list[str]:
    """What is wrong with ``timeout_ms`` as the transaction timeout under ``conf`` and a broker whose
    ``transaction.max.timeout.ms`` is ``broker_max_ms``; empty when the rule holds."""
    problems = []
    budget = transaction_budget(conf)
    if timeout_ms < budget.required_timeout_ms:
        problems.append(f"transaction.timeout.ms {timeout_ms} < {budget.required_timeout_ms} required: "
                        f"{budget.tolerable_failed_checkpoints + 1} × checkpoint gap {budget.checkpoint_gap_ms}"
                        f" + checkpoint timeout {budget.checkpoint_timeout_ms} + restart back-off "
                        f"{budget.restart_backoff_ms} + recovery {budget.recovery_allowance_ms}")
    if timeout_ms > broker_max_ms:
        problems.append(f"transaction.timeout.ms {timeout_ms} > the broker's transaction.max.timeout.ms "
                        f"{broker_max_ms}: the producer would be refused")
    return problems
