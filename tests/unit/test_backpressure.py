"""Back-pressure: a producer at its limit pauses the feed, never the event loop, and loses nothing.

A scripted provider and a producer that Kafka answers only when the test says stand in for the network;
the connector service, its outlet and its HTTP endpoint are the real ones.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from types import SimpleNamespace

import aiohttp
import pytest

from connectors import connect
from connectors.delivery import DeliveryLedger, DeliveryStatus
from connectors.health import start_health_server
from connectors.metrics import ConnectorMetrics
from connectors.outlet import Outlet
from connectors.provider import Provider
from connectors.raw_contract import RawTrade
from connectors.service import FEED_QUEUE, ConnectorService, ServiceOptions
from tickflow_testkit.simulators.server import free_port


class SlowKafka:
    """A producer whose records wait unacknowledged until ``ack`` (or every ``poll`` once ``flowing``)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ledger = DeliveryLedger(lambda err, msg: None)
        self.waiting: deque = deque()
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flowing = False
        self.reachable = True
        self.fatal: str | None = None

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))
        self.waiting.append(self.ledger.take())

    def ack(self, n: int) -> None:
        for _ in range(min(n, len(self.waiting))):
            self.waiting.popleft()(None, None)

    def poll(self) -> None:
        if self.flowing:
            self.ack(len(self.waiting))

    def undelivered(self) -> int:
        return self.ledger.undelivered

    def status(self) -> DeliveryStatus:
        return DeliveryStatus(self.reachable, self.ledger.undelivered, self.ledger.oldest_age(), self.capacity,
                              self.ledger.delivered, fatal=self.fatal)

    def flush(self, timeout: float = 0) -> int:
        return self.undelivered()


class ScriptedFeed(Provider):
    """A live feed that sends its batches as fast as they are read, then stays connected and quiet."""

    name = "scripted"

    def __init__(self, batches: list[list[RawTrade]]) -> None:
        self.batches = batches
        self.yielded = 0

    async def stream(self, symbols):
        yield []
        for batch in self.batches:
            self.yielded += 1
            yield batch
        await asyncio.Event().wait()


def trade(i: int) -> RawTrade:
    ts = 1_700_000_000_000_000_000 + i * 1_000_000
    return RawTrade("scripted", "ES", "XCME", ts, ts, i + 1, f"{4000 + i % 7}.25", str(1 + i % 3), f"t{i}")


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


def test_room_waits_without_blocking_the_loop_and_resumes_at_three_quarters():
    async def main() -> None:
        kafka = SlowKafka(capacity=10)
        metrics = ConnectorMetrics()
        outlet = Outlet(kafka, metrics, poll_interval_s=0.005)
        for i in range(10):
            outlet.publish("scripted", trade(i))
        assert not outlet.has_room(1) and outlet.busy
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)
        clock = asyncio.create_task(ticker())
        waiter = asyncio.create_task(outlet.room(1))
        await wait_for(lambda: ticks > 50, 5, "the loop to turn while the feed waits")
        assert not waiter.done() and metrics.value("tickflow_connector_backpressure") == 1
        kafka.ack(3)  # 7 held: room for one more, but not yet back to three quarters
        seen = ticks
        await wait_for(lambda: ticks > seen + 20, 5, "more turns")
        assert not waiter.done()
        kafka.ack(1)  # 6 held + 1 <= 7
        await asyncio.wait_for(waiter, 5)
        clock.cancel()
        assert metrics.value("tickflow_connector_backpressure") == 0
        assert metrics.value("tickflow_connector_backpressure_waits_total") == 1
        assert metrics.value("tickflow_connector_backpressure_seconds_total") > 0

    asyncio.run(main())


def test_a_stalled_kafka_pauses_the_feed_the_endpoint_answers_and_everything_arrives_once_in_order():
    trades = [trade(i) for i in range(3000)]
    batches = [trades[i:i + 10] for i in range(0, len(trades), 10)]
    feed = ScriptedFeed(batches)
    kafka = SlowKafka(capacity=200)
    metrics = ConnectorMetrics()
    port = free_port()

    async def get(http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
        async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
            return resp.status, await resp.text()

    async def main() -> None:
        service = ConnectorService(feed, ["ES"], Outlet(kafka, metrics, poll_interval_s=0.005), metrics,
                                   options=ServiceOptions(stuck_after_s=0.3, first_trade_wait_s=0.5))
        runner = await start_health_server(service, metrics, "127.0.0.1", port)
        run = asyncio.create_task(service.run())
        try:
            await wait_for(lambda: service.outlet.paused_since is not None, 10, "the feed to pause")
            await wait_for(lambda: feed.yielded >= FEED_QUEUE, 10, "the pump to read ahead")
            await wait_for(lambda: not service.readiness()[0], 10, "deliveries to count as stuck")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
                live, ready, health, text = (await get(http, "/livez"), await get(http, "/readyz"),
                                             await get(http, "/health"), (await get(http, "/metrics"))[1])
            assert live[0] == 200 and json.loads(live[1])["status"] == "alive"
            assert ready[0] == 503 and "wait for Kafka" in " ".join(json.loads(ready[1])["problems"])
            doc = json.loads(health[1])
            assert health[0] == 503 and doc["status"] == "degraded"
            assert doc["kafka"]["undelivered"] == 200 and doc["kafka"]["feed_paused_s"] > 0
            assert "tickflow_connector_backpressure 1.0" in text
            assert "tickflow_connector_undelivered_records 200.0" in text
            # the feed is not read beyond what the service holds plus the pump's bounded queue
            assert feed.yielded <= len(kafka.sent) // 10 + FEED_QUEUE + 2
            kafka.flowing = True
            await wait_for(lambda: len(kafka.sent) == len(trades), 20, "every trade")
            await wait_for(lambda: service.readiness()[0], 5, "readiness to come back")
        finally:
            service.stop()
            await asyncio.wait_for(run, 10)
            await runner.cleanup()
        assert service.undelivered_at_exit == 0

    asyncio.run(main())
    assert [v for _, _, v in kafka.sent] == [t.to_json() for t in trades]


def test_a_wedged_loop_or_a_failed_producer_is_not_live_an_outage_is():
    kafka = SlowKafka(capacity=10)
    service = ConnectorService(ScriptedFeed([]), ["ES"], Outlet(kafka, ConnectorMetrics()), ConnectorMetrics())
    kafka.reachable = False
    assert service.liveness()[0] and not service.readiness()[0]
    service._beat_at -= 60
    ok, doc = service.liveness()
    assert not ok and "not turned" in doc["problems"][0]


@pytest.mark.parametrize("paused", [False, True])
def test_a_producer_that_fails_for_good_stops_the_service_and_says_why(paused):
    kafka = SlowKafka(capacity=10)
    kafka.flowing = not paused
    service = ConnectorService(ScriptedFeed([[trade(i)] for i in range(20)]), ["ES"],
                               Outlet(kafka, ConnectorMetrics(), poll_interval_s=0.005), ConnectorMetrics(),
                               options=ServiceOptions(first_trade_wait_s=0.1, shutdown_timeout_s=0.5))

    async def main() -> None:
        run = asyncio.create_task(service.run())
        if paused:
            await wait_for(lambda: service.outlet.paused_since is not None, 10, "the feed to pause")
        else:
            await wait_for(lambda: len(kafka.sent) == 20, 10, "the feed's trades")
        kafka.fatal = "Broker: producer fenced"
        await asyncio.wait_for(run, 10)

    asyncio.run(main())
    assert "producer fenced" in service.failure
    ok, doc = service.liveness()
    assert not ok and "producer fenced" in doc["problems"][0]


class IdleService:
    """What the idle watcher reads of a service, counting its checks."""

    def __init__(self) -> None:
        self.outlet = SimpleNamespace(busy=True)
        self.checks = 0
        self.stopped = False

    @property
    def last_published_at(self) -> float:
        self.checks += 1
        return time.time() - 60

    def stop(self) -> None:
        self.stopped = True


def test_the_idle_stop_waits_while_records_wait_for_kafka():
    svc = IdleService()

    async def main() -> None:
        watcher = asyncio.create_task(connect._stop_when_idle(svc, 0.04))
        await wait_for(lambda: svc.checks >= 5, 5, "the watcher to look five times")
        assert not svc.stopped
        svc.outlet.busy = False
        await asyncio.wait_for(watcher, 2)
        assert svc.stopped

    asyncio.run(main())
