"""Polygon through the connector service, against the local Polygon simulator (no Kafka)."""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from connectors.decimals import decimal_text
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
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.polygon import PolygonSimulator

RATE = 5_000


def provider(sim: PolygonSimulator, metrics: ConnectorMetrics, key: str = "test-key", **opts) -> PolygonProvider:
    cfg = parse_section("polygon", {"ws_url": sim.ws_url, "rest_url": sim.rest_url, "venue": "XCME",
                                    "heartbeat_s": 1.0, "idle_timeout_s": 3.0, "page_limit": 2000, **opts})
    return PolygonProvider(cfg, metrics, key)


def expected(trades):
    return Counter(trade_identity(t) for t in trades)


def test_every_trade_quote_and_minute_bar_arrives_once_in_canonical_form(es_trades):
    trades = es_trades[:6000]
    sim = PolygonSimulator(Market(trades, RATE, opened=False)).start()
    metrics = ConnectorMetrics()
    try:
        async def scenario(service, sender):
            await open_when_connected(service, sim)
            await wait_for(lambda: sender.count("md.raw.trades") >= len(trades), 30, "all trades")
        sender, _ = run_service(provider(sim, metrics), ["ES"], scenario, metrics=metrics)
    finally:
        sim.stop()
    got = sender.values("md.raw.trades")
    assert Counter(published_identity(r) for r in got) == expected(trades)
    first = got[0]
    assert first == {**first, "v": 1, "source": "polygon", "symbol": "ES", "venue": "XCME",
                     "trade_id": "4:1", "seq": 1, "price": decimal_text(trades[0].price),
                     "size": trades[0].size}
    assert len(sender.values("md.raw.quotes")) == len(trades)
    bars = sender.values("md.raw.bars")
    assert bars and all(b["timeframe"] == "1m" and b["ts_start"] % 60_000_000_000 == 0 for b in bars)
    assert sum(int(b["volume"]) for b in bars) <= sum(int(t.size) for t in trades)


@pytest.mark.parametrize("fault", ["drop", "stall", "http_429"])
def test_connection_faults_lose_nothing_and_duplicate_nothing(es_trades, fault):
    trades = es_trades[:12_000]
    sim = PolygonSimulator(Market(trades, RATE, opened=False)).start()
    metrics = ConnectorMetrics()
    try:
        async def scenario(service, sender):
            async def fault_and_reconnect() -> None:
                await wait_for(lambda: sender.count("md.raw.trades") > 2000 * (1 + service.primary.sessions),
                               30, "trades flowing")
                if fault == "http_429":
                    sim.faults.http_429 = 2
                if fault == "stall":
                    sim.faults.stalled = True
                    await wait_for(lambda: not service.primary.connected, 15, "the stall to be detected")
                    sim.faults.stalled = False
                else:
                    await asyncio.to_thread(sim.drop_connections)
                sessions = service.primary.sessions
                await wait_for(lambda: service.primary.sessions > sessions, 15, "a reconnect")

            await open_when_connected(service, sim)
            for _ in range(2):
                await fault_and_reconnect()
            await wait_for(lambda: sim.market.finished, 30, "the market to finish")
            await wait_for(lambda: sender.count("md.raw.trades") >= len(trades), 30, "all trades")
        sender, service = run_service(provider(sim, metrics), ["ES"], scenario, metrics=metrics)
    finally:
        sim.stop()
    got = Counter(published_identity(r) for r in sender.values("md.raw.trades"))
    assert got == expected(trades)
    assert metrics.value("tickflow_connector_reconnects_total", provider="polygon") >= 2
    assert metrics.value("tickflow_connector_backfilled_total", provider="polygon") > 0
    if fault == "http_429":
        assert metrics.value("tickflow_connector_rate_limit_waits_total", provider="polygon") >= 1


def test_garbage_frames_go_to_the_dead_letter_topic_and_the_stream_goes_on(es_trades):
    trades = es_trades[:3000]
    sim = PolygonSimulator(Market(trades, RATE, opened=False)).start()
    sim.faults.garbage_every = 3
    metrics = ConnectorMetrics()
    try:
        async def scenario(service, sender):
            await open_when_connected(service, sim)
            await wait_for(lambda: sender.count("md.raw.trades") >= len(trades), 30, "all trades")
            await wait_for(lambda: sender.count("md.dlq") >= sim.garbage_sent > 0, 10, "dead letters")
        sender, _ = run_service(provider(sim, metrics), ["ES"], scenario, metrics=metrics)
    finally:
        sim.stop()
    assert Counter(published_identity(r) for r in sender.values("md.raw.trades")) == expected(trades)
    dead = sender.values("md.dlq")
    assert len(dead) == sim.garbage_sent
    assert {d["reason"] for d in dead} == {"MALFORMED"}
    assert dead[0]["original"].startswith('[{"ev":"T"') and dead[0]["topic"] == "polygon"


def test_refused_credentials_are_reported_and_not_retried_in_a_tight_loop(es_trades):
    sim = PolygonSimulator(Market(es_trades[:10], RATE)).start()
    metrics = ConnectorMetrics()
    try:
        async def scenario(service, sender):
            await wait_for(lambda: metrics.value("tickflow_connector_errors_total", provider="polygon",
                                                 kind="auth") >= 1, 10, "the auth failure")
            await wait_for(lambda: service.primary.breaker.state == "open", 5, "the circuit to open")
        _, service = run_service(provider(sim, metrics, key="wrong"), ["ES"], scenario, metrics=metrics)
    finally:
        sim.stop()
    assert "authentication failed" in service.primary.last_error
    assert metrics.value("tickflow_connector_errors_total", provider="polygon", kind="auth") <= 2
