"""``tickflow connect``: run the connector service for one provider (and a backup) until stopped.

Start-up: reach Kafka (else one line and exit 1), recover the positions from md.raw.trades, then serve.
Exit code: 0 after a clean stop; 1 if the producer failed for good or records were still undelivered
when the shutdown timeout ran out (both are said on stderr).
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from connectors import provider_config, registry
from connectors.health import start_health_server
from connectors.kafka_publisher import DeliveryOptions, RawPublisher
from connectors.metrics import ConnectorMetrics
from connectors.outlet import Outlet
from connectors.position_recovery import Recovery, recover_positions
from connectors.service import ConnectorService, ServiceOptions

log = logging.getLogger("tickflow.connectors")


@dataclass(frozen=True)
class ConnectRequest:
    provider: str
    symbols: list[str]
    backup: str | None = None
    config_file: Path | None = None
    bootstrap: str = "127.0.0.1:9092"
    health_host: str = "127.0.0.1"
    health_port: int = 9464
    stop_when_idle_s: float | None = None   # stop once no record has arrived for this long (demo, bench)
    delivery_timeout_s: float = 0.0         # give up on a record Kafka has not acknowledged by then; 0 = never
    max_undelivered: int = 100_000          # records held for Kafka before the feed is paused
    stuck_after_s: float = 10.0             # a record unacknowledged this long makes the service not ready
    shutdown_timeout_s: float = 20.0        # how long a stopping service waits for Kafka


def run(req: ConnectRequest, out: TextIO = sys.stdout,
        configs: dict[str, provider_config.ProviderConfig] | None = None) -> int:
    """Connect, publish until SIGINT/SIGTERM (or idle), flush; returns the exit code.

    ``configs`` replaces the provider config file (the demo points a provider at its simulator).
    """
    configs = configs if configs is not None else provider_config.load(req.config_file)
    for name in filter(None, (req.provider, req.backup)):
        if name not in configs:
            raise provider_config.ConfigError(f"provider {name!r} has no section in the provider config")
    publisher = RawPublisher(req.bootstrap, client_id=f"tickflow-connect-{req.provider}",
                             delivery=DeliveryOptions(req.delivery_timeout_s, req.max_undelivered),
                             component=f"connector:{req.provider}", wait_when_full=False)
    metrics = ConnectorMetrics()
    code = 1
    try:
        code = asyncio.run(_serve(req, configs, publisher, metrics, out))
    finally:
        left = publisher.close(timeout=1.0)   # the service already waited shutdown_timeout_s for Kafka
        failed = sum(publisher.failures.values())
        if failed:
            print(f"connect: Kafka refused {failed} records for good (copies on md.dlq where possible), "
                  f"first: {publisher.stats.errors[0]}", file=sys.stderr)
        if left:
            print(f"connect: {left} records were still undelivered at exit (trades among them are backfilled "
                  f"on the next start)", file=sys.stderr)
    return 1 if left or failed else code


async def _serve(req: ConnectRequest, configs: dict, publisher: RawPublisher, metrics: ConnectorMetrics,
                 out: TextIO) -> int:
    def make(name: str):
        cfg = configs[name]
        return registry.create(cfg, metrics, cfg.secret())

    primary = make(req.provider)
    backup = make(req.backup) if req.backup else None
    options = ServiceOptions(stuck_after_s=req.stuck_after_s, shutdown_timeout_s=req.shutdown_timeout_s)
    service = ConnectorService(primary, req.symbols, Outlet(publisher, metrics, f"connector:{req.provider}"),
                               metrics, backup, options)
    runner = await start_health_server(service, metrics, req.health_host, req.health_port)
    try:  # the probes answer from here on: /livez 200, /readyz 503 until a feed is connected
        sources = {primary.name} | ({backup.name} if backup else set())
        recovery = await asyncio.to_thread(recover_positions, req.bootstrap, sources, set(req.symbols))
        print(describe_recovery(recovery, req.symbols), file=out, flush=True)
        service.resume_from(recovery.positions)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        print(f"connect: {req.provider}{' (backup ' + req.backup + ')' if req.backup else ''} → Kafka "
              f"{req.bootstrap} for {','.join(req.symbols)}; http://{req.health_host}:{req.health_port}/health, "
              f"/livez, /readyz, /metrics", file=out, flush=True)
        watcher = asyncio.create_task(_stop_when_idle(service, req.stop_when_idle_s)) if req.stop_when_idle_s else None
        started = time.monotonic()
        try:
            await service.run()
        finally:
            if watcher:
                watcher.cancel()
    finally:
        await runner.cleanup()
    seconds = time.monotonic() - started
    published = sum(s.value for m in metrics.messages_out.collect() for s in m.samples if s.name.endswith("_total"))
    reconnects = sum(metrics.value("tickflow_connector_reconnects_total", provider=l.name) for l in service.links)
    dead = sum(metrics.value("tickflow_connector_malformed_total", provider=l.name) for l in service.links)
    print(f"connect: published {published:,.0f} records in {seconds:.1f}s ({dead:,.0f} to md.dlq); "
          f"{reconnects:,.0f} reconnects", file=out, flush=True)
    if service.failure:
        print(f"connect: {service.failure}", file=sys.stderr, flush=True)
        return 1
    return 0


def describe_recovery(recovery: Recovery, symbols: list[str]) -> str:
    """One line: where each symbol resumes (the backfill starts there), or that it starts fresh."""
    parts = []
    for symbol in symbols:
        pos = recovery.positions.get(symbol)
        if pos is None:
            parts.append(f"{symbol} none")
        else:
            when = datetime.fromtimestamp(pos.ts / 1e9, UTC).isoformat(timespec="milliseconds")
            parts.append(f"{symbol} from {when} ({pos.published_at_ts()} trades at that instant, "
                         f"{'+'.join(sorted(recovery.sources.get(symbol, ())))})")
    uncertain = f"; not settled within the scan bound: {','.join(sorted(recovery.unsettled))}" \
        if recovery.unsettled else ""
    return (f"connect: positions from md.raw.trades ({recovery.read:,} records read): "
            f"{', '.join(parts)}{uncertain}")


async def _stop_when_idle(service: ConnectorService, idle_s: float) -> None:
    """Stop the service once it has published, then nothing has arrived for ``idle_s`` seconds and Kafka
    holds everything (a feed paused for Kafka is not idle)."""
    while True:
        await asyncio.sleep(min(1.0, idle_s / 4))
        last = service.last_published_at
        if last and time.time() - last > idle_s and not service.outlet.busy:
            log.info("no records for %.0fs; stopping", idle_s)
            service.stop()
            return
