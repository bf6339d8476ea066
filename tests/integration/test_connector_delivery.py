"""`tickflow connect` when Kafka goes away and when the connector itself is killed, against the test stack.

A Polygon simulator fed with the real ES trades streams while the broker is stopped for longer than a
short delivery timeout (then started again), or while the connector process is killed with SIGKILL (then
started again). Each test reads md.raw.trades back and compares every trade's bytes (all but ts_recv,
the connector's clock) with the canonical form of the simulator's trades: each once, in order.
"""
from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections import Counter

import pytest

from connectors.es_sample import Trade
from connectors.polygon import parse_frame
from connectors.position_recovery import recover_positions
from connectors.raw_contract import RawTrade
from connectors.symbols import SymbolMap
from tests.integration.kafka_tools import publish, reset_topics
from tests.integration.test_connectors import (
    KEY,
    cleaned_up,
    config_file,
    get,
    start_connect,
    wait_subscribed,
)
from tickflow import stack
from tickflow.processes import wait_until
from tickflow.runtime.kafka_reading import end_offsets, read_to_end
from tickflow_testkit.simulators.launch import build
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.polygon import PolygonSimulator, encode_events, trade_event
from tickflow_testkit.simulators.server import free_port

TRADES = 8_000
TS_RECV = re.compile(rb'"ts_recv":\d+')


@pytest.fixture(scope="module")
def trades(settings):
    from connectors.es_sample import es_sample_csv, read_es_trades

    return read_es_trades(es_sample_csv(settings.cache_dir), limit=TRADES)


@pytest.fixture(autouse=True)
def empty_raw_topics(running_stack):
    """A connector resumes from what md.raw.trades holds: each test starts from empty topics, and leaves
    them empty for the other modules."""
    topics = ["md.raw.trades", "md.raw.quotes", "md.raw.bars", "md.dlq"]
    reset_topics(running_stack.kafka_bootstrap, topics)
    yield
    reset_topics(running_stack.kafka_bootstrap, topics)


def canonical(trades: list[Trade], symbol: str = "ES") -> list[bytes]:
    """Each trade as the connector must publish it (ts_recv zeroed): the simulator's wire frame, read by
    the Polygon adapter."""
    frame = encode_events([trade_event(t, symbol) for t in trades])
    records, _, _ = parse_frame(frame, SymbolMap("polygon"), 0, "XCME")
    return [r.to_json() for r in records]


def published(bootstrap: str, symbol: str) -> list[bytes]:
    """md.raw.trades' values of ``symbol`` in offset order, ts_recv zeroed."""
    return [TS_RECV.sub(b'"ts_recv":0', r.value) for r in read_to_end(bootstrap, "md.raw.trades")
            if json.loads(r.value)["symbol"] == symbol]


def metric(text: str, name: str) -> float:
    """The summed samples of ``name`` in a Prometheus text page."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"))


class Prober(threading.Thread):
    """Asks a connector's /livez every 0.3 s until stopped: status and response time of each answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[tuple[int, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.3):
            started = time.monotonic()
            status, _ = get(f"http://127.0.0.1:{self.port}/livez")
            self.answers.append((status, time.monotonic() - started))


def test_a_kafka_outage_longer_than_the_delivery_timeout_loses_nothing(running_stack, tmp_path, trades):
    """The broker is down for ~15 s. The connector under test (no delivery time limit) holds its records,
    pauses its feed at 2,000 records, stays live and reports itself not ready, then delivers every trade
    once. A control connector on another symbol runs with a 3 s delivery timeout, as the producer used
    to (120 s): it loses trades in the same outage, and says so."""
    s = running_stack
    rate = 300  # the market runs ~27 s: before, through and after the outage
    market = Market(trades, rate, opened=False)
    sim = build("polygon", market, KEY, port=free_port()).start()
    control_sim = PolygonSimulator(Market(trades, rate, opened=False), symbol="NQ", api_key=KEY,
                                   port=free_port()).start()
    port, control_port = free_port(), free_port()
    (tmp_path / "control").mkdir()
    proc = start_connect(s, config_file(tmp_path, {"polygon": sim}), "polygon", "--stop-when-idle", "4",
                         "--max-undelivered", "2000", "--stuck-after", "2", health_port=port)
    control = start_connect(s, config_file(tmp_path / "control", {"polygon": control_sim}), "polygon",
                            "--symbols", "NQ", "--delivery-timeout", "3", "--stop-when-idle", "4",
                            health_port=control_port)
    prober = Prober(port)
    with cleaned_up(proc, sim), cleaned_up(control, control_sim):
        wait_subscribed(sim, port)
        wait_subscribed(control_sim, control_port)
        market.open()
        control_sim.market.open(market.start)
        prober.start()
        wait_until(lambda: metric(get(f"http://127.0.0.1:{port}/metrics")[1],
                                  "tickflow_connector_delivered_total") > 1000, 30, "deliveries before the outage")
        stack.down(s, ["kafka"], log=lambda _: None)
        down_at = time.monotonic()

        def outage_seen() -> bool:
            text = get(f"http://127.0.0.1:{port}/metrics")[1]
            return (metric(text, "tickflow_connector_kafka_reachable") == 0
                    and metric(text, "tickflow_connector_backpressure") == 1
                    and metric(text, "tickflow_connector_oldest_undelivered_seconds") > 3)
        wait_until(outage_seen, 30, "the connector to pause its feed for Kafka")
        during = get(f"http://127.0.0.1:{port}/metrics")[1]
        ready, health = get(f"http://127.0.0.1:{port}/readyz"), get(f"http://127.0.0.1:{port}/health")
        wait_until(lambda: metric(get(f"http://127.0.0.1:{control_port}/metrics")[1],
                                  "tickflow_connector_delivery_failures_total") > 0, 30,
                   "the control's records to time out")
        stack.up(s, ["kafka"], log=lambda _: None)
        outage_s = time.monotonic() - down_at
        wait_until(lambda: market.finished, 60, "the market to finish")
        prober.halt.set()  # the connector stops 4 s after its last record: ask no more
        prober.join(10)
        out, _ = proc.communicate(timeout=120)
        control_out, _ = control.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert outage_s > 3 + 5, "the outage outlasts the control's delivery timeout"
    # while Kafka was away: not ready, degraded, still live, the backlog and the pause on /metrics
    assert ready[0] == 503 and "Kafka is unreachable" in json.loads(ready[1])["problems"]
    doc = json.loads(health[1])
    assert health[0] == 503 and doc["status"] == "degraded" and doc["kafka"]["reachable"] is False
    assert metric(during, "tickflow_connector_undelivered_records") >= 1000
    assert metric(during, "tickflow_connector_undelivered_capacity") == 2000
    refused = [(n, answer) for n, answer in enumerate(prober.answers) if answer[0] != 200]
    assert len(prober.answers) > 20 and not refused, f"{len(prober.answers)} answers, not 200: {refused}"
    assert max(seconds for _, seconds in prober.answers) < 4, "the event loop kept answering"
    # afterwards: every trade exactly once, byte for byte, in order
    want = canonical(trades)
    got = published(s.kafka_bootstrap, "ES")
    assert Counter(got) == Counter(want)
    assert got == want, "one partition, so the topic holds the trades in the order they happened"
    # the control, with a delivery timeout as the producer used to have, lost trades in the same outage
    control_got = published(s.kafka_bootstrap, "NQ")
    assert 0 < len(control_got) < len(trades) and set(control_got) < set(canonical(trades, "NQ"))
    assert control.returncode == 1 and "Kafka refused" in control_out, control_out


def test_a_connector_killed_mid_stream_resumes_where_the_topic_ends(running_stack, tmp_path, trades):
    """SIGKILL while trades stream (records in the producer's queue die with it); the market goes on;
    the restarted connector reads its position back from md.raw.trades and backfills the gap."""
    s = running_stack
    market = Market(trades, 500, opened=False)
    sim = build("polygon", market, KEY, port=free_port()).start()
    cfg = config_file(tmp_path, {"polygon": sim})
    port = free_port()
    proc = start_connect(s, cfg, "polygon", health_port=port)
    with cleaned_up(proc, sim):
        wait_subscribed(sim, port)
        market.open()
        wait_until(lambda: sum(end_offsets(s.kafka_bootstrap, "md.raw.trades").values()) > 2000, 30,
                   "trades on the topic")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = market.happened()
        wait_until(lambda: market.happened() > killed_at + 1000, 30, "a gap of 1,000 trades")
        on_topic = sum(end_offsets(s.kafka_bootstrap, "md.raw.trades").values())
        restart_at = market.happened()
        restarted = start_connect(s, cfg, "polygon", "--stop-when-idle", "4", health_port=free_port())
        with cleaned_up(restarted):
            wait_until(lambda: market.finished, 60, "the market to finish")
            out, _ = restarted.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert restarted.returncode == 0, out
    assert "positions from md.raw.trades" in out and "ES from " in out, out
    assert on_topic < restart_at < len(trades), "a gap to backfill, and a live feed to join"
    want = canonical(trades)
    got = published(s.kafka_bootstrap, "ES")
    assert Counter(got) == Counter(want)
    assert got == want


def test_recovery_reads_further_back_only_as_far_as_a_symbol_needs(running_stack):
    """ES's last instant (1,500 trades) starts before the last 1,000 records of its partition; NQ is
    behind 3,000 records of another symbol. Both are found by reading further back, within the bound."""
    s = running_stack
    t0 = 1_378_130_400_000_000_000

    def trade(source: str, symbol: str, ms: int, i: int) -> bytes:
        return RawTrade(source, symbol, "XCME", t0 + ms * 1_000_000, t0, i, "1650.25", str(1 + i % 2)).to_json()
    es = [trade("polygon", "ES", 1, 0)] + [trade("polygon", "ES", 2, i) for i in range(1500)]
    other = ([trade("polygon", "NQ", 5, i) for i in range(3)] + [b"not a trade", trade("replay", "NQ", 9, 0)]
             + [trade("polygon", "CL", 6, i) for i in range(3000)])
    publish(s.kafka_bootstrap, [("md.raw.trades", b"ES", v, 0) for v in es]
            + [("md.raw.trades", b"NQ", v, 1) for v in other])
    got = recover_positions(s.kafka_bootstrap, {"polygon"}, {"ES", "NQ"})
    assert {sym: (p.ts, sum(p.at_ts.values())) for sym, p in got.positions.items()} == {
        "ES": (t0 + 2_000_000, 1500), "NQ": (t0 + 5_000_000, 3)}
    assert got.positions["ES"].at_ts == Counter({("1650.25", "1"): 750, ("1650.25", "2"): 750})
    assert not got.unsettled and got.read == len(es) + len(other)
    bounded = recover_positions(s.kafka_bootstrap, {"polygon"}, {"ES", "NQ"}, max_records=1000)
    assert bounded.unsettled == {"ES", "NQ"} and bounded.read == 2000
