"""Finnhub through the service, and failover Polygon → Finnhub → Polygon, against the local simulators."""
from __future__ import annotations

import asyncio
from collections import Counter

from connectors.finnhub import FinnhubProvider
from connectors.metrics import ConnectorMetrics
from connectors.polygon import PolygonProvider
from connectors.provider_config import parse_section
from tests.connectors.harness import (
    open_when_connected,
    published_identity,
    run_service,
    trade_identity,
    wait_for,
)
from tickflow_testkit.simulators.finnhub import FinnhubSimulator
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.polygon import PolygonSimulator

RATE = 5_000


def finnhub(sim: FinnhubSimulator, metrics: ConnectorMetrics, key: str = "test-key") -> FinnhubProvider:
    cfg = parse_section("finnhub", {"ws_url": sim.ws_url, "rest_url": sim.rest_url, "venue": "XCME",
                                    "heartbeat_s": 1.0, "idle_timeout_s": 3.0, "page_limit": 2000})
    return FinnhubProvider(cfg, metrics, key)


def polygon(sim: PolygonSimulator, metrics: ConnectorMetrics) -> PolygonProvider:
    cfg = parse_section("polygon", {"ws_url": sim.ws_url, "rest_url": sim.rest_url, "venue": "XCME",
                                    "heartbeat_s": 1.0, "idle_timeout_s": 3.0, "page_limit": 2000,
                                    "channels": ["T"]})
    return PolygonProvider(cfg, metrics, "test-key")


def test_finnhub_trades_arrive_once_across_drops_and_get_stable_sequence_numbers(es_trades):
    trades = es_trades[:10_000]
    sim = FinnhubSimulator(Market(trades, RATE, opened=False)).start()
    metrics = ConnectorMetrics()
    try:
        async def scenario(service, sender):
            async def drop_after(n: int) -> None:
                await wait_for(lambda: sender.count("md.raw.trades") > n, 30, "trades flowing")
                sessions = service.primary.sessions
                await asyncio.to_thread(sim.drop_connections)
                await wait_for(lambda: service.primary.sessions > sessions, 15, "a reconnect")

            await open_when_connected(service, sim)
            for n in (2000, 5000):
                await drop_after(n)
            await wait_for(lambda: sim.market.finished, 30, "the market to finish")
            await wait_for(lambda: sender.count("md.raw.trades") >= len(trades), 30, "all trades")
        sender, _ = run_service(finnhub(sim, metrics), ["ES"], scenario, metrics=metrics)
    finally:
        sim.stop()
    got = sender.values("md.raw.trades")
    assert Counter(published_identity(r) for r in got) == Counter(trade_identity(t) for t in trades)
    assert {r["source"] for r in got} == {"finnhub"} and all(r["trade_id"] is None for r in got)
    seqs = [r["seq"] for r in got]
    assert len(set(seqs)) == len(seqs), "seq identifies a trade of a feed without ids"
    assert metrics.value("tickflow_connector_backfilled_total", provider="finnhub") > 0


def test_failover_to_the_backup_and_back_keeps_each_trade_once(es_trades):
    trades = es_trades[:15_000]
    primary_sim = PolygonSimulator(Market(trades, RATE, opened=False)).start()
    backup_sim = FinnhubSimulator(Market(trades, RATE, opened=False)).start()
    metrics = ConnectorMetrics()
    try:
        async def scenario(service, sender):
            await open_when_connected(service, primary_sim)
            backup_sim.market.open(primary_sim.market.start)  # one market, two providers
            await wait_for(lambda: sender.count("md.raw.trades") > 3000, 30, "trades from the primary")
            await asyncio.to_thread(primary_sim.stop)  # the primary's outage
            await wait_for(lambda: service.active == "finnhub", 20, "the backup to take over")
            count = sender.count("md.raw.trades")
            await wait_for(lambda: sender.count("md.raw.trades") > count + 2000, 30, "trades from the backup")
            await asyncio.to_thread(primary_sim.start)  # the primary recovers on the same port
            await wait_for(lambda: service.active == "polygon", 20, "the primary to take the feed back")
            await wait_for(lambda: primary_sim.market.finished, 30, "the market to finish")
            await wait_for(lambda: sender.count("md.raw.trades") >= len(trades), 30, "all trades")
        sender, service = run_service(polygon(primary_sim, metrics), ["ES"], scenario,
                                      backup=finnhub(backup_sim, metrics), metrics=metrics)
    finally:
        primary_sim.stop()
        backup_sim.stop()
    got = sender.values("md.raw.trades")
    assert Counter(published_identity(r) for r in got) == Counter(trade_identity(t) for t in trades)
    sources = Counter(r["source"] for r in got)
    assert sources["polygon"] > 0 and sources["finnhub"] > 0
    assert metrics.value("tickflow_connector_failovers_total", from_provider="polygon", to_provider="finnhub") == 1
    assert metrics.value("tickflow_connector_failovers_total", from_provider="finnhub", to_provider="polygon") == 1
    assert service.backup.task is None, "the backup link stops once the primary is back"
