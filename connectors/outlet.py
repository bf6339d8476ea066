"""Where a connector's records go: the raw topics keyed by symbol, and md.dlq for what could not be read.

The outlet is also where the feed meets Kafka's pace: ``room`` pauses the caller (asynchronously, the
event loop keeps serving health checks and the provider's heartbeats) while the producer holds its limit
of unacknowledged records, and ``serve`` keeps delivery reports flowing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from prometheus_client import Counter

from connectors.delivery import DeliveryStatus
from connectors.metrics import ConnectorMetrics
from connectors.provider import Malformed, Record
from connectors.raw_contract import RawBar, RawQuote, RawTrade, dlq_json

TOPICS = {RawTrade: "md.raw.trades", RawQuote: "md.raw.quotes", RawBar: "md.raw.bars"}
DLQ_TOPIC = "md.dlq"
RESUME_AT = 0.75   # a paused feed resumes once the producer holds at most this share of its capacity
log = logging.getLogger("tickflow.connectors.outlet")


class DeliveryFailed(RuntimeError):
    """The producer failed in a way it cannot recover from (librdkafka's fatal errors)."""


class Sender(Protocol):
    """What the outlet needs of a producer (``RawPublisher``; tests record instead)."""

    capacity: int

    def send(self, topic: str, key: bytes, value: bytes) -> None: ...
    def poll(self) -> None: ...
    def undelivered(self) -> int: ...
    def status(self) -> DeliveryStatus: ...
    def flush(self, timeout: float = ...) -> int: ...


class Outlet:
    """Encodes each record in its contract and hands it to the Kafka publisher (``RawPublisher``)."""

    def __init__(self, sender: Sender, metrics: ConnectorMetrics, component: str = "connector",
                 poll_interval_s: float = 0.05) -> None:
        self.sender = sender
        self.metrics = metrics
        self.component = component
        self.poll_interval_s = poll_interval_s
        self.paused_since: float | None = None   # monotonic time the feed was paused, while it is
        self._out: dict[tuple[str, str], Counter] = {}  # labelled counters, looked up once
        metrics.delivery.status = sender.status

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

    # --- pace ---------------------------------------------------------------------------------------
    def has_room(self, n: int) -> bool:
        """May ``n`` more records be handed to the producer now? (Always when it holds none.)"""
        held = self.sender.undelivered()
        return held == 0 or held + n <= self.sender.capacity

    async def room(self, n: int) -> None:
        """Return once the producer can take ``n`` more records; until then the feed waits here.

        A paused feed resumes at ``RESUME_AT`` of the capacity, not at the first free place, so that it
        moves in large steps rather than one record at a time."""
        if self.has_room(n):
            return
        started = self.paused_since = time.monotonic()
        m = self.metrics
        m.backpressure.set(1)
        m.backpressure_waits.inc()
        log.info("feed paused: the producer holds %d records not yet acknowledged by Kafka",
                 self.sender.undelivered())
        resume_at = int(self.sender.capacity * RESUME_AT)
        try:
            while True:
                self.sender.poll()
                held = self.sender.undelivered()
                if held == 0 or held + n <= resume_at:
                    break
                self._raise_if_failed()
                await asyncio.sleep(self.poll_interval_s)
        finally:
            waited = time.monotonic() - started
            self.paused_since = None
            m.backpressure.set(0)
            m.backpressure_seconds.inc(waited)
        log.info("feed resumed after %.1fs", waited)

    @property
    def busy(self) -> bool:
        """Records are waiting for Kafka (or the feed is paused for them)."""
        return self.paused_since is not None or self.sender.undelivered() > 0

    async def serve(self) -> None:
        """Serve the producer's delivery reports until cancelled; raises ``DeliveryFailed`` if it fails."""
        while True:
            self.sender.poll()
            self._raise_if_failed()
            await asyncio.sleep(self.poll_interval_s)

    def _raise_if_failed(self) -> None:
        fatal = self.sender.status().fatal
        if fatal:
            raise DeliveryFailed(f"the Kafka producer failed: {fatal}")

    async def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for every record to be acknowledged; returns how many are not."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.sender.poll()
            held = self.sender.undelivered()
            if held == 0 or time.monotonic() >= deadline or self.sender.status().fatal:
                return held
            await asyncio.sleep(self.poll_interval_s)

    def status(self) -> DeliveryStatus:
        return self.sender.status()
