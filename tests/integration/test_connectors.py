"""`tickflow connect` against each provider's local simulator, into the real Kafka of the test stack.

The simulators speak the providers' wire formats and are fed with the real ES trades; the connector runs as
the CLI runs it (a subprocess). Each test reads the raw topics back and compares with what was sent.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from connectors.decimals import decimal_text
from connectors.es_sample import es_sample_csv, read_es_trades
from tests.integration.kafka_tools import reset_topics
from tickflow.processes import wait_until
from tickflow.runtime.kafka_reading import end_offsets, read_to_end
from tickflow_testkit.simulators.launch import build
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.server import free_port

KEY = "integration-key"
TRADES = 8_000
RATE = 4_000


@pytest.fixture(scope="module", autouse=True)
def raw_topics_left_empty(running_stack):
    """The providers' trades are not the other modules' data: empty the topics this module writes to."""
    yield
    reset_topics(running_stack.kafka_bootstrap, ["md.raw.trades", "md.raw.quotes", "md.raw.bars", "md.dlq"])


@pytest.fixture(scope="module")
def trades(settings):
    return read_es_trades(es_sample_csv(settings.cache_dir), limit=TRADES)


def config_file(tmp_path: Path, sims: dict) -> Path:
    """A provider config that points each provider at its simulator and names the key variable."""
    extra = {"polygon": {"channels": ["T", "Q", "AM"], "venue": "XCME", "heartbeat_s": 1.0, "idle_timeout_s": 3.0},
             "finnhub": {"venue": "XCME", "heartbeat_s": 1.0, "idle_timeout_s": 3.0},
             "databento": {"dataset": "GLBX.MDP3", "venue": "XCME", "idle_timeout_s": 3.0},
             "alphavantage": {"poll_seconds": 0.3}}
    sections = {}
    for name, sim in sims.items():
        sections[name] = {**sim.client_options(), **extra[name]}
        sections[name]["key_env"] = f"SIM_{name.upper()}_KEY"
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump({"providers": sections}))
    return path


def start_connect(settings, cfg: Path, provider: str, *extra: str, health_port: int) -> subprocess.Popen:
    env = {**os.environ, **{f"SIM_{p.upper()}_KEY": KEY for p in ("polygon", "finnhub", "databento", "alphavantage")}}
    return subprocess.Popen(
        [sys.executable, "-m", "tickflow.cli", "connect", provider, "--symbols", "ES", "--config", str(cfg),
         "--bootstrap", settings.kafka_bootstrap, "--health-port", str(health_port), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@contextmanager
def cleaned_up(proc: subprocess.Popen, *sims):
    """Whatever the test's outcome: the connector process killed if still running, the simulators stopped."""
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.kill()
        for sim in sims:
            sim.stop()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def wait_subscribed(sim, health_port: int) -> None:
    """Until the connector is subscribed as the simulator sees it (so that no trade is sent before)."""
    if hasattr(sim, "subscriptions"):
        wait_until(lambda: sim.subscriptions > 0, 30, "the subscription")
    else:  # the Databento gateway fixes its live cursor before the client can report itself healthy
        wait_until(lambda: get(f"http://127.0.0.1:{health_port}/health")[0] == 200, 30, "the connector's health")


def expected(trades) -> Counter:
    return Counter((t.ts_ns // 1_000_000 * 1_000_000, decimal_text(t.price), decimal_text(t.size)) for t in trades)


def published(settings, start) -> list[dict]:
    return [json.loads(r.value) for r in read_to_end(settings.kafka_bootstrap, "md.raw.trades", start)]


@pytest.mark.parametrize("provider", ["polygon", "finnhub", "databento"])
def test_connect_publishes_every_simulated_trade_once_with_health_and_metrics(running_stack, tmp_path, trades,
                                                                              provider):
    settings = running_stack
    sim = build(provider, Market(trades, RATE, opened=False), KEY, port=free_port()).start()
    sim.faults.garbage_every = 25  # a frame (a record, for DBN) the protocol does not allow, now and then
    health_port = free_port()
    start = end_offsets(settings.kafka_bootstrap, "md.raw.trades")
    dlq_start = end_offsets(settings.kafka_bootstrap, "md.dlq")
    proc = start_connect(settings, config_file(tmp_path, {provider: sim}), provider, "--stop-when-idle", "4",
                         health_port=health_port)
    with cleaned_up(proc, sim):
        wait_subscribed(sim, health_port)
        wait_until(lambda: get(f"http://127.0.0.1:{health_port}/health")[0] == 200, 30, "the connector's health")
        sim.market.open()
        wait_until(lambda: sim.market.happened() > TRADES // 3, 30, "the market to run")
        sim.drop_connections()  # a network failure mid-stream
        wait_until(lambda: sim.market.finished, 60, "the market to finish")
        _, metrics = get(f"http://127.0.0.1:{health_port}/metrics")
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    got = published(settings, start)
    assert Counter((r["ts_event"], r["price"], r["size"]) for r in got) == expected(trades)
    assert {(r["source"], r["symbol"], r["venue"]) for r in got} == {(provider, "ES", "XCME")}
    assert f'tickflow_connector_messages_out_total{{provider="{provider}",topic="md.raw.trades"}}' in metrics
    assert f'tickflow_connector_reconnects_total{{provider="{provider}"}} 1.0' in metrics
    assert KEY not in out, "the key is never printed"
    dead = [json.loads(r.value) for r in read_to_end(settings.kafka_bootstrap, "md.dlq", dlq_start)]
    # every garbage frame that reached the connector is a dead letter, and nothing else is; those in flight
    # when the connection was dropped never arrive (exact counts: tests/connectors, without a drop)
    assert 0 < len(dead) <= sim.garbage_sent
    assert {(d["reason"], d["topic"], d["component"]) for d in dead} == {("MALFORMED", provider,
                                                                         f"connector:{provider}")}


def test_alphavantage_bars_reach_the_raw_bars_topic_once_each(running_stack, tmp_path, trades):
    settings = running_stack
    sim = build("alphavantage", Market(trades, RATE, opened=False), KEY, port=free_port()).start()
    health_port = free_port()
    start = end_offsets(settings.kafka_bootstrap, "md.raw.bars")
    proc = start_connect(settings, config_file(tmp_path, {"alphavantage": sim}), "alphavantage",
                         "--stop-when-idle", "4", health_port=health_port)
    with cleaned_up(proc, sim):
        wait_until(lambda: get(f"http://127.0.0.1:{health_port}/health")[0] == 200, 30, "the connector's health")
        sim.market.open()
        wait_until(lambda: sim.market.finished, 60, "the market to finish")
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    got = [json.loads(r.value) for r in read_to_end(settings.kafka_bootstrap, "md.raw.bars", start)]
    want = {(b.start_ns, *(Decimal(b.fields[k]) for k in ("1. open", "2. high", "3. low", "4. close", "5. volume")))
            for b in sim.market_bars}
    assert len(got) == len(want)
    assert {(r["ts_start"], *(Decimal(r[k]) for k in ("open", "high", "low", "close", "volume"))) for r in got} == want
    assert {(r["source"], r["symbol"], r["timeframe"]) for r in got} == {("alphavantage", "ES", "1m")}


def test_failover_between_providers_keeps_each_trade_once_in_kafka(running_stack, tmp_path, trades):
    settings = running_stack
    # the earlier tests published these trades as polygon and finnhub: a connector would resume after them
    reset_topics(settings.kafka_bootstrap, ["md.raw.trades"])
    rate = 400  # slow enough that the outage, the takeover and the primary's return (its circuit probes
    #            every 10 s) all happen while the market is open
    market = Market(trades, rate, opened=False)
    primary = build("polygon", market, KEY, port=free_port()).start()
    backup = build("finnhub", Market(trades, rate, opened=False), KEY, port=free_port()).start()
    health_port = free_port()
    start = end_offsets(settings.kafka_bootstrap, "md.raw.trades")
    proc = start_connect(settings, config_file(tmp_path, {"polygon": primary, "finnhub": backup}), "polygon",
                         "--backup", "finnhub", "--stop-when-idle", "6", "-v", health_port=health_port)

    def active() -> str | None:
        status, body = get(f"http://127.0.0.1:{health_port}/health")
        return json.loads(body).get("active") if status in (200, 503) and body else None

    with cleaned_up(proc, primary, backup):
        wait_until(lambda: active() == "polygon", 30, "the primary to be active")
        wait_subscribed(primary, health_port)
        market.open()
        backup.market.open(market.start)
        wait_until(lambda: market.happened() > TRADES // 4, 30, "the market to run")
        primary.stop()  # the primary's outage
        wait_until(lambda: active() == "finnhub", 30, "the backup to take over")
        wait_until(lambda: market.happened() > TRADES // 2, 30, "the market to run on")
        primary.start()  # and its recovery
        wait_until(lambda: active() == "polygon", 30, "the primary to take the feed back")
        wait_until(lambda: market.finished, 60, "the market to finish")
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    got = published(settings, start)
    assert Counter((r["ts_event"], r["price"], r["size"]) for r in got) == expected(trades)
    assert {r["source"] for r in got} == {"polygon", "finnhub"}
    assert "failover: polygon → finnhub" in out and "failover: finnhub → polygon" in out
