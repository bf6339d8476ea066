"""A restarted service resumes from the positions recovered from what it had published (no Kafka here:
the first run's records stand in for the topic's tail; tests/integration/test_connector_delivery.py kills
a real `tickflow connect` with SIGKILL)."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from connectors.metrics import ConnectorMetrics
from connectors.position_recovery import TailScan
from tests.connectors.harness import (
    open_when_connected,
    published_identity,
    run_service,
    trade_identity,
    wait_for,
)
from tests.connectors.test_finnhub_failover import finnhub, polygon
from tickflow_testkit.simulators.finnhub import FinnhubSimulator
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.polygon import PolygonSimulator

RATE = 3_000


def prefix_ending_inside_an_instant(values: list[bytes], at_least: int) -> list[bytes]:
    """What reached Kafka before the crash: a prefix of the published trades whose last instant goes on
    after it (the rest of that instant was still in the producer's queue)."""
    for n in range(at_least, len(values) - 1):
        if json.loads(values[n - 1])["ts_event"] == json.loads(values[n])["ts_event"]:
            return values[:n]
    raise AssertionError("no instant with two trades after the first run's prefix")


@pytest.mark.parametrize("provider", ["polygon", "finnhub"])
def test_a_restart_from_recovered_positions_backfills_the_gap_and_repeats_nothing(es_trades, provider):
    trades = es_trades[:6000]
    sim_class = PolygonSimulator if provider == "polygon" else FinnhubSimulator
    make = polygon if provider == "polygon" else finnhub
    sim = sim_class(Market(trades, RATE, opened=False)).start()
    try:
        async def first_run(service, sender):
            await open_when_connected(service, sim)
            await wait_for(lambda: sender.count("md.raw.trades") > 2000, 30, "trades flowing")
        first, _ = run_service(make(sim, ConnectorMetrics()), ["ES"], first_run)
        on_topic = prefix_ending_inside_an_instant([v for t, _, v in first.sent if t == "md.raw.trades"], 1500)

        scan = TailScan({provider}, {"ES"})
        scan.add_older(0, on_topic, reached_start=True)
        positions = scan.positions()
        metrics = ConnectorMetrics()

        async def second_run(service, sender):
            await wait_for(lambda: sim.market.finished, 30, "the market to finish")
            await wait_for(lambda: sender.count("md.raw.trades") >= len(trades) - len(on_topic), 30, "the rest")
        second, _ = run_service(make(sim, metrics), ["ES"], second_run, positions=positions, metrics=metrics)
    finally:
        sim.stop()
    got = [json.loads(v) for v in on_topic] + second.values("md.raw.trades")
    assert Counter(published_identity(r) for r in got) == Counter(trade_identity(t) for t in trades)
    assert metrics.value("tickflow_connector_backfilled_total", provider=provider) > 0
    seqs = [r["seq"] for r in got]
    assert len(set(seqs)) == len(seqs), "the restarted feed numbers on where the first left off"
    if provider == "finnhub":  # seq = ms × 100000 + place within the millisecond, across the restart
        place: Counter = Counter()
        want = []
        for t in trades:
            ms = t.ts_ns // 1_000_000
            want.append(ms * 100_000 + place[ms])
            place[ms] += 1
        assert sorted(seqs) == sorted(want)
