"""Where a connector's records go: the raw topics keyed by symbol, and md.dlq for what could not be read."""
from __future__ import annotations

from typing import Protocol

from connectors.metrics import ConnectorMetrics
from connectors.provider import Malformed, Record
from connectors.raw_contract import RawBar, RawQuote, RawTrade, dlq_json

TOPICS = {RawTrade: "md.raw.trades", RawQuote: "md.raw.quotes", RawBar: "md.raw.bars"}
DLQ_TOPIC = "md.dlq"


class Sender(Protocol):
    def send(self, topic: str, key: bytes, value: bytes) -> None: ...
    def flush(self, timeout: float = ...) -> None: ...


class Outlet:
    """Encodes each record in its contract and hands it to the Kafka publisher (``RawPublisher``)."""

    def __init__(self, sender: Sender, metrics: ConnectorMetrics, component: str = "connector") -> None:
        self.sender = sender
        self.metrics = metrics
        self.component = component
        self._out: dict[tuple[str, str], object] = {}  # labelled counters, looked up once

    def _count(self, provider: str, topic: str) -> None:
        child = self._out.get((provider, topic))
        if child is None:
            child = self._out[(provider, topic)] = self.metrics.messages_out.labels(provider, topic)
        child.inc()

    def publish(self, provider: str, record: Record) -> None:
        if isinstance(record, Malformed):
            value = dlq_json("MALFORMED", record.detail, provider, record.original, self.component)
            self.sender.send(DLQ_TOPIC, record.symbol.encode(), value)
            self.metrics.malformed.labels(provider).inc()
            self._count(provider, DLQ_TOPIC)
            return
        topic = TOPICS[type(record)]
        self.sender.send(topic, record.symbol.encode(), record.to_json())
        self._count(provider, topic)

    def flush(self) -> None:
        self.sender.flush()
