"""Publishing raw records to Kafka: idempotent, acks=all, batched, keyed by symbol; never a silent drop.

This path uses confluent-kafka (librdkafka), not kafka-python: on this machine kafka-python 3.0.12
published the ES sample at 6.8k records/s (CPU-bound in the client), confluent-kafka 2.16.1 at 63k/s
including normalisation, which is what the processor benchmark needs to be fed. kafka-python stays
the client for admin work and the tests' consumers. Numbers and command: bench/README.md.

Delivery: ``message.timeout.ms`` is 0 by default, which librdkafka reads as "no time limit": with the
idempotent producer (retries unbounded, at most 5 requests in flight, sequence numbers per partition) a
record waits in the producer's queue while Kafka is unreachable and is delivered once, in order, when it
comes back. The queue is bounded (``max_undelivered``); the connector service stops reading its feed
before the bound is reached (``Outlet.room``). A record Kafka refuses for good (too large, not
authorised, unknown topic, or past a finite ``delivery_timeout_s``) is counted, logged once per topic
and error, and sent to md.dlq (reason ``UNDELIVERABLE``) with its bytes; a dead letter that cannot be
delivered either is counted and logged, never retried in a loop.
"""
from __future__ import annotations

import json
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from connectors.delivery import DeliveryLedger, DeliveryStatus
from connectors.raw_contract import dlq_json

log = logging.getLogger("tickflow.connectors.kafka")
DLQ_TOPIC = "md.dlq"


class BrokerUnavailable(RuntimeError):
    """Kafka could not be reached; the message names the bootstrap address."""


@dataclass(frozen=True)
class DeliveryOptions:
    """How long and how much the producer holds for Kafka."""

    timeout_s: float = 0.0           # librdkafka message.timeout.ms; 0 = retry until delivered
    max_undelivered: int = 100_000   # records held unacknowledged before the feed is paused
    max_buffer_mb: int = 512         # librdkafka's own byte bound on its queue


@dataclass
class PublishStats:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class RawPublisher:
    """The producer settings every connector shares, delivery accounting and the undeliverable path."""

    def __init__(self, bootstrap: str, client_id: str = "tickflow-connector", linger_ms: int = 5,
                 connect_timeout_s: float = 5.0, delivery: DeliveryOptions = DeliveryOptions(),
                 component: str = "connector", wait_when_full: bool = True) -> None:
        from confluent_kafka import KafkaException

        self.bootstrap = bootstrap
        self.options = delivery
        self.component = component
        self.capacity = delivery.max_undelivered
        self.wait_when_full = wait_when_full   # batch commands wait; the connector service must not block
        self.ledger = DeliveryLedger(self._on_settled)
        self.failures: Counter[tuple[str, str]] = Counter()   # (topic, error name) → records
        self.reachable = True
        self.fatal: str | None = None
        self._held: deque[tuple[str, bytes | None, bytes, Any]] = deque()  # refused while librdkafka was full
        self._closing = False
        self._unreachable_since: float | None = None
        self._errors: list[str] = []
        self._unflushed = 0   # records still unsettled when the last flush gave up
        self._KafkaException = KafkaException
        self._producer = _new_producer({
            "bootstrap.servers": bootstrap, "client.id": client_id,
            "enable.idempotence": True, "acks": "all", "linger.ms": linger_ms,
            "batch.size": 1_000_000, "compression.type": "lz4",
            "message.timeout.ms": int(delivery.timeout_s * 1000),
            # librdkafka's bounds sit above the service's, so a full queue is the exception, not the rule
            "queue.buffering.max.messages": min(2_147_483_647, delivery.max_undelivered + 100_000),
            "queue.buffering.max.kbytes": delivery.max_buffer_mb * 1024,
            "statistics.interval.ms": 1000, "stats_cb": self._on_stats, "error_cb": self._on_error,
            "logger": _quiet_logger(),
        })
        try:
            self._producer.list_topics(timeout=connect_timeout_s)
        except KafkaException:
            raise BrokerUnavailable(
                f"cannot reach Kafka at {bootstrap} (is the stack up? `tickflow stack status`)") from None

    # --- sending ------------------------------------------------------------------------------------
    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Hand one record to the producer. If librdkafka's queue is full: with ``wait_when_full`` wait for
        deliveries to make room (batch commands); without, hold the record here, in order, until ``poll``
        can pass it on (the connector service, whose event loop must never block)."""
        settle = self.ledger.take()
        if self._held:
            self._held.append((topic, key, value, settle))
            if self.wait_when_full:
                self._release_held(wait=True)
        elif not self._produce(topic, key, value, settle) and self.wait_when_full:
            self._release_held(wait=True)
        if self.ledger.sent % 1000 == 0:  # serve delivery reports in bulk; a poll per record costs ~25%
            self._producer.poll(0)

    def _produce(self, topic: str, key: bytes | None, value: bytes, settle: Any) -> bool:
        """False (and the record held) if librdkafka's queue is full."""
        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=settle)
            return True
        except BufferError:
            self._held.append((topic, key, value, settle))
            return False
        except self._KafkaException as exc:  # refused before it was queued (e.g. larger than message.max.bytes)
            settle(exc.args[0], _Refused(topic, key, value))
            return True

    def send_many(self, topic: str, key: bytes, values: list[bytes]) -> None:
        """``send`` for many values under one key, without the per-call overhead (the replay's fast path).

        The replay is a batch command, not a service: on a full queue it waits for deliveries here."""
        produce, poll, take = self._producer.produce, self._producer.poll, self.ledger.take
        self._release_held(wait=True)
        for i, value in enumerate(values):
            settle = take()
            while True:
                try:
                    produce(topic, value=value, key=key, on_delivery=settle)
                    break
                except BufferError:
                    poll(0.05)
                except self._KafkaException as exc:
                    settle(exc.args[0], _Refused(topic, key, value))
                    break
            if i % 1000 == 999:
                poll(0)

    def _release_held(self, wait: bool = False) -> None:
        """Pass held records on to librdkafka in their order, as far as its queue takes them."""
        held = self._held
        while held:
            topic, key, value, settle = held[0]
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=settle)
            except BufferError:
                if not wait:
                    return
                self._producer.poll(0.05)
                continue
            except self._KafkaException as exc:
                settle(exc.args[0], _Refused(topic, key, value))
            held.popleft()

    def poll(self) -> None:
        """Serve delivery reports, statistics and errors; pass held records on. Non-blocking."""
        self._producer.poll(0)
        if self._held:
            self._release_held()

    # --- what librdkafka reports --------------------------------------------------------------------
    def _on_settled(self, err: Any, msg: Any) -> None:
        if err is None:
            if not self.reachable:
                self._mark_reachable()
            return
        if self._closing:  # purged at exit: ``close`` reports them
            return
        topic = msg.topic()
        name = err.name()
        first = (topic, name) not in self.failures
        self.failures[(topic, name)] += 1
        if len(self._errors) < 5:
            self._errors.append(f"{topic}: {err.str()}")
        if err.fatal():
            self._set_fatal(err.str())
        if first:
            log.error("Kafka refused a record for %s: %s (%s); counted in "
                      "tickflow_connector_delivery_failures_total%s", topic, err.str(), name,
                      "" if topic == DLQ_TOPIC else ", a copy goes to md.dlq")
        if topic != DLQ_TOPIC and self.fatal is None:
            value = msg.value() or b""
            dead = dlq_json("UNDELIVERABLE", f"not delivered to {topic}: {err.str()} ({name})", topic, value,
                            self.component)
            self._produce(DLQ_TOPIC, msg.key(), dead, self.ledger.take())

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self._set_fatal(err.str())
        elif err.name() == "_ALL_BROKERS_DOWN" and self.reachable:
            self._mark_unreachable(err.str())

    def _on_stats(self, text: str) -> None:
        try:
            brokers = json.loads(text).get("brokers", {})
            up = any(isinstance(b, dict) and b.get("state") == "UP" for b in brokers.values())
        except (ValueError, AttributeError):
            return
        if up and not self.reachable:
            self._mark_reachable()
        elif not up and self.reachable:
            self._mark_unreachable("no broker connection is up")

    def _mark_unreachable(self, why: str) -> None:
        self.reachable = False
        self._unreachable_since = time.monotonic()
        log.warning("Kafka at %s is unreachable (%s); holding up to %d records until it is back",
                    self.bootstrap, why, self.capacity)

    def _mark_reachable(self) -> None:
        self.reachable = True
        since, self._unreachable_since = self._unreachable_since, None
        log.warning("Kafka at %s is reachable again%s; %d records to deliver", self.bootstrap,
                    f" after {time.monotonic() - since:.0f}s" if since else "", self.ledger.undelivered)

    def _set_fatal(self, why: str) -> None:
        if self.fatal is None:
            self.fatal = why
            log.error("the Kafka producer failed and cannot go on: %s", why)

    # --- state --------------------------------------------------------------------------------------
    def status(self) -> DeliveryStatus:
        ledger = self.ledger
        return DeliveryStatus(self.reachable, ledger.undelivered, ledger.oldest_age(), self.capacity,
                              ledger.delivered, ledger.failed, self.fatal, dict(self.failures))

    @property
    def stats(self) -> PublishStats:
        """Counts for batch commands: ``failed`` includes what the last flush left undelivered."""
        errors = self._errors + ([f"{self._unflushed} records still undelivered after the flush"]
                                 if self._unflushed else [])
        return PublishStats(self.ledger.sent, self.ledger.delivered, self.ledger.failed + self._unflushed, errors)

    def undelivered(self) -> int:
        return self.ledger.undelivered

    def flush(self, timeout: float = 120.0) -> int:
        """Wait (blocking) up to ``timeout`` s for every record to be settled; returns how many are not."""
        deadline = time.monotonic() + timeout
        while self._held and time.monotonic() < deadline:
            self._release_held()
            self._producer.poll(0.05)
        self._producer.flush(max(0.0, deadline - time.monotonic()))
        self._unflushed = self.ledger.undelivered
        return self._unflushed

    def close(self, timeout: float = 120.0) -> int:
        """Flush, then drop what is still unsettled (it is reported, never sent to md.dlq); returns its count."""
        remaining = self.flush(timeout)
        self._closing = True
        if remaining:
            self._held.clear()
            self._producer.purge()
            self._producer.poll(0)
            self._unflushed = self.ledger.undelivered
        return remaining


@dataclass(frozen=True)
class _Refused:
    """Stands in for a librdkafka message that ``produce`` refused outright, for the failure path."""

    _topic: str
    _key: bytes | None
    _value: bytes

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return self._value


def _new_producer(config: dict[str, Any]):
    """The librdkafka producer (a seam for the unit tests, which stand a fake in its place)."""
    from confluent_kafka import Producer

    return Producer(config)


def _quiet_logger():
    """librdkafka logs connection retries to stderr; keep them out of the CLI's one-line errors."""
    quiet = logging.getLogger("tickflow.kafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return quiet
