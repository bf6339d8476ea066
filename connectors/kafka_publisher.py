"""Publishing raw records to Kafka: idempotent, acks=all, batched, keyed by symbol.

This path uses confluent-kafka (librdkafka), not kafka-python: on this machine kafka-python 3.0.12
published the ES sample at 6.8k records/s (CPU-bound in the client), confluent-kafka 2.16.1 at 63k/s
including normalisation, which is what the processor benchmark needs to be fed. kafka-python stays
the client for admin work and the tests' consumers. Numbers and command: bench/README.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class BrokerUnavailable(RuntimeError):
    """Kafka could not be reached; the message names the bootstrap address."""


@dataclass
class PublishStats:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class RawPublisher:
    """The producer settings every connector shares, and delivery accounting."""

    def __init__(self, bootstrap: str, client_id: str = "tickflow-connector", linger_ms: int = 5,
                 connect_timeout_s: float = 5.0) -> None:
        from confluent_kafka import KafkaException, Producer

        self.bootstrap = bootstrap
        self._producer = Producer({
            "bootstrap.servers": bootstrap, "client.id": client_id,
            "enable.idempotence": True, "acks": "all", "linger.ms": linger_ms,
            "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000,
            "compression.type": "lz4", "message.timeout.ms": 120_000,
            "logger": _quiet_logger(),
        })
        try:
            self._producer.list_topics(timeout=connect_timeout_s)
        except KafkaException:
            raise BrokerUnavailable(
                f"cannot reach Kafka at {bootstrap} (is the stack up? `tickflow stack status`)") from None
        self.stats = PublishStats()

    def _on_delivery(self, err, _msg) -> None:
        if err is None:
            self.stats.delivered += 1
            return
        self.stats.failed += 1
        if len(self.stats.errors) < 5:
            self.stats.errors.append(str(err))

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.05)
        self.stats.sent += 1
        if self.stats.sent % 1000 == 0:  # serve delivery reports in bulk; a poll per record costs ~25%
            self._producer.poll(0)

    def send_many(self, topic: str, key: bytes, values: list[bytes]) -> None:
        """``send`` for many values under one key, without the per-call overhead (the replay's fast path)."""
        produce, poll, on_delivery = self._producer.produce, self._producer.poll, self._on_delivery
        for i, value in enumerate(values):
            while True:
                try:
                    produce(topic, value=value, key=key, on_delivery=on_delivery)
                    break
                except BufferError:
                    poll(0.05)
            if i % 1000 == 999:
                poll(0)
        self.stats.sent += len(values)

    def flush(self, timeout: float = 120.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            self.stats.failed += remaining
            self.stats.errors.append(f"{remaining} records still queued after {timeout:.0f}s")

    def close(self) -> None:
        self.flush()


def _quiet_logger():
    """librdkafka logs connection retries to stderr; keep them out of the CLI's one-line errors."""
    import logging

    log = logging.getLogger("tickflow.kafka")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    return log
