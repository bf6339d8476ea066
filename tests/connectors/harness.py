"""Running a connector service in-process against provider simulators, recording what it publishes."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.decimals import decimal_text
from connectors.delivery import DeliveryStatus
from connectors.es_sample import Trade
from connectors.metrics import ConnectorMetrics
from connectors.outlet import Outlet
from connectors.provider import Provider
from connectors.service import ConnectorService, ServiceOptions
from connectors.trade_gate import Position


@dataclass
class RecordingSender:
    """Stands in for the Kafka publisher in in-process tests: keeps every (topic, key, value), each
    acknowledged at once."""

    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    capacity: int = 1_000_000

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def poll(self) -> None:
        pass

    def undelivered(self) -> int:
        return 0

    def status(self) -> DeliveryStatus:
        return DeliveryStatus(capacity=self.capacity, delivered=len(self.sent))

    def flush(self, timeout: float = 0) -> int:
        return 0

    def count(self, topic: str) -> int:
        return sum(1 for t, _, _ in self.sent if t == topic)

    def values(self, topic: str) -> list[dict]:
        return [json.loads(v) for t, _, v in self.sent if t == topic]


def trade_identity(t: Trade) -> tuple[int, str, str]:
    """A recorded trade as a connector must publish it (ms time, canonical decimal text)."""
    return (t.ts_ns // 1_000_000 * 1_000_000, decimal_text(t.price), decimal_text(t.size))


def published_identity(record: dict) -> tuple[int, str, str]:
    return (record["ts_event"], record["price"], record["size"])


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)


async def open_when_connected(service: ConnectorService, sim) -> None:
    """Open the simulated market once the connector and the simulator both count the subscription, so
    that every trade is sent live."""
    await wait_for(lambda: service.primary.connected and sim.subscriptions > 0, 10, "the subscription")
    sim.market.open()


def run_service(primary: Provider, symbols: list[str],
                scenario: Callable[[ConnectorService, RecordingSender], Awaitable[None]],
                backup: Provider | None = None, options: ServiceOptions | None = None,
                metrics: ConnectorMetrics | None = None, positions: dict[str, Position] | None = None
                ) -> tuple[RecordingSender, ConnectorService]:
    """Run the service while ``scenario`` drives it; the scenario returns when the test's condition holds.
    ``positions``: where a restarted service resumes (as recovered from the topic)."""
    sender = RecordingSender()
    metrics = metrics or ConnectorMetrics()

    async def main() -> ConnectorService:
        service = ConnectorService(primary, symbols, Outlet(sender, metrics), metrics, backup,
                                   options or ServiceOptions(backoff_base_s=0.05, backoff_cap_s=0.5,
                                                             reset_timeout_s=1.0), positions=positions)
        runner = asyncio.create_task(service.run())
        try:
            await scenario(service, sender)
        finally:
            service.stop()
            await asyncio.wait_for(runner, 30)
        return service

    service = asyncio.run(main())
    return sender, service
