"""Connectors: records/s from each provider simulator through `tickflow connect` into Kafka, and the
replay's publish rate.

    .venv/bin/python bench/connector_throughput.py [--trades 200000] [--providers polygon,finnhub,databento]

On the bench stack (Kafka only, ports +20000). For each provider, its simulator (a thread of this process,
fed with the real ES trades) waits with its market closed until `tickflow connect PROVIDER` (a separate
process, as in production) has subscribed; then the whole market is released at once, so the simulator
sends as fast as it can and the connector is the bottleneck. A sampler reads the end offsets of the raw
topics every 0.25 s; the rate is taken between 10% and 90% of the expected records. Polygon and Databento
send a trade and a quote per trade (plus minute bars), Finnhub trades only. Then `tickflow replay` publishes
the ES sample and reports its own rate. Appends to bench/results/connector_throughput.jsonl.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_stack import fresh_kafka, machine, record

TOPICS = ("md.raw.trades", "md.raw.quotes", "md.raw.bars")


def total_offsets(bootstrap: str) -> int:
    from tickflow.runtime.kafka_reading import end_offsets

    return sum(sum(end_offsets(bootstrap, t).values()) for t in TOPICS)


def section(name: str, sim) -> dict:
    """The simulator's address, and the channels benchmarked (trades and quotes, not minute bars)."""
    extra = {"polygon": {"channels": ["T", "Q"]}, "databento": {"schemas": ["trades", "mbp-1"]}}.get(name, {})
    return {**sim.client_options(), **extra, "venue": "XCME"}


def bench_provider(s, name: str, trades: list, port: int) -> dict:
    from tickflow_testkit.simulators.launch import build
    from tickflow_testkit.simulators.market import Market
    from tickflow_testkit.simulators.server import free_port

    sim = build(name, Market(trades, 1e9, opened=False), "bench-key", port=free_port()).start()
    per_trade = 1 if name == "finnhub" else 2
    cfg = Path(tempfile.mkdtemp()) / "providers.yaml"
    cfg.write_text(yaml.safe_dump({"providers": {name: {**section(name, sim), "key_env": "BENCH_KEY"}}}))
    base = total_offsets(s.kafka_bootstrap)
    proc = subprocess.Popen([sys.executable, "-m", "tickflow.cli", "connect", name, "--symbols", "ES", "--config",
                             str(cfg), "--bootstrap", s.kafka_bootstrap, "--health-port", str(port),
                             "--stop-when-idle", "5"], env={**__import__("os").environ, "BENCH_KEY": "bench-key"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            healthy = urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200
            if healthy and getattr(sim, "subscriptions", 1) > 0:
                break
        except OSError:
            time.sleep(0.2)
    expected = len(trades) * per_trade
    samples: list[tuple[float, int]] = []
    sim.market.open()
    while time.monotonic() < deadline + 600:
        n = total_offsets(s.kafka_bootstrap) - base
        samples.append((time.monotonic(), n))
        if n >= expected:
            break
        time.sleep(0.25)
    out, _ = proc.communicate(timeout=120)
    sim.stop()
    lo = next(t for t, n in samples if n >= expected * 0.1)
    hi = next(t for t, n in samples if n >= expected * 0.9)
    rate = expected * 0.8 / (hi - lo) if hi > lo else None
    return {"provider": name, "trades": len(trades), "records": samples[-1][1],
            "records_per_s": round(rate) if rate else None,
            "trades_per_s": round(rate / per_trade) if rate else None, "exit": proc.returncode,
            "connector_said": out.strip().splitlines()[-1] if out.strip() else ""}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trades", type=int, default=200_000)
    p.add_argument("--providers", default="polygon,finnhub,databento")
    args = p.parse_args()
    s = fresh_kafka()
    from connectors.es_sample import es_sample_csv, read_es_trades

    csv = es_sample_csv(s.cache_dir)
    trades = read_es_trades(csv, limit=args.trades)
    results = [bench_provider(s, name, trades, 29464 + i) for i, name in enumerate(args.providers.split(","))]
    replay = subprocess.run([sys.executable, "-m", "tickflow.cli", "replay", "--bootstrap", s.kafka_bootstrap],
                            capture_output=True, text=True)
    m = re.search(r"published (\d+) trades .* \(([\d,]+)/s\)", replay.stdout)
    record("connector_throughput", {
        "machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "providers": results,
        "replay": {"trades": int(m.group(1)), "per_s": int(m.group(2).replace(",", ""))} if m else replay.stderr[-300:],
    })
    from tickflow import stack

    stack.down(s, log=lambda _: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
