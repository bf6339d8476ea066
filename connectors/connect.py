"""``tickflow connect``: run the connector service for one provider (and a backup) until stopped."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from connectors import provider_config, registry
from connectors.health import start_health_server
from connectors.kafka_publisher import RawPublisher
from connectors.metrics import ConnectorMetrics
from connectors.outlet import Outlet
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


def run(req: ConnectRequest, out: TextIO = sys.stdout,
        configs: dict[str, provider_config.ProviderConfig] | None = None) -> int:
    """Connect, publish until SIGINT/SIGTERM (or idle), flush; returns the exit code.

    ``configs`` replaces the provider config file (the demo points a provider at its simulator).
    """
    configs = configs if configs is not None else provider_config.load(req.config_file)
    for name in filter(None, (req.provider, req.backup)):
        if name not in configs:
            raise provider_config.ConfigError(f"provider {name!r} has no section in the provider config")
    publisher = RawPublisher(req.bootstrap, client_id=f"tickflow-connect-{req.provider}")
    metrics = ConnectorMetrics()
    try:
        return asyncio.run(_serve(req, configs, publisher, metrics, out))
    finally:
        publisher.close()
        failed = publisher.stats.failed
        if failed:
            print(f"connect: {failed} records were not acknowledged by Kafka: {publisher.stats.errors[:1]}",
                  file=sys.stderr)


async def _serve(req: ConnectRequest, configs: dict, publisher: RawPublisher, metrics: ConnectorMetrics,
                 out: TextIO) -> int:
    def make(name: str):
        cfg = configs[name]
        return registry.create(cfg, metrics, cfg.secret())

    primary = make(req.provider)
    backup = make(req.backup) if req.backup else None
    service = ConnectorService(primary, req.symbols, Outlet(publisher, metrics, f"connector:{req.provider}"),
                               metrics, backup, ServiceOptions())
    runner = await start_health_server(service.health, metrics, req.health_host, req.health_port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.stop)
    print(f"connect: {req.provider}{' (backup ' + req.backup + ')' if req.backup else ''} → Kafka {req.bootstrap} "
          f"for {','.join(req.symbols)}; health http://{req.health_host}:{req.health_port}/health, "
          f"metrics /metrics", file=out, flush=True)
    watcher = asyncio.create_task(_stop_when_idle(service, req.stop_when_idle_s)) if req.stop_when_idle_s else None
    started = time.monotonic()
    try:
        await service.run()
    finally:
        if watcher:
            watcher.cancel()
        await runner.cleanup()
    seconds = time.monotonic() - started
    published = sum(s.value for m in metrics.messages_out.collect() for s in m.samples if s.name.endswith("_total"))
    reconnects = sum(metrics.value("tickflow_connector_reconnects_total", provider=l.name) for l in service.links)
    dead = sum(metrics.value("tickflow_connector_malformed_total", provider=l.name) for l in service.links)
    print(f"connect: published {published:,.0f} records in {seconds:.1f}s ({dead:,.0f} to md.dlq); "
          f"{reconnects:,.0f} reconnects", file=out, flush=True)
    return 0


async def _stop_when_idle(service: ConnectorService, idle_s: float) -> None:
    """Stop the service once it has published, and then nothing has arrived for ``idle_s`` seconds."""
    while True:
        await asyncio.sleep(min(1.0, idle_s / 4))
        last = service.last_published_at
        if last and time.time() - last > idle_s:
            log.info("no records for %.0fs; stopping", idle_s)
            service.stop()
            return
