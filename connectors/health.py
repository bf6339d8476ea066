"""The connector's HTTP endpoint, served from the service's own event loop.

- ``/livez``: 200 while the process works (its event loop turns, the Kafka producer has not failed for
  good), else 503. The liveness probe: a restart helps only then, and a restart is never needed to
  wait out a provider or Kafka outage (the position is recovered from Kafka anyway).
- ``/readyz``: 200 while a provider feed is connected and Kafka acknowledges deliveries, else 503.
- ``/health``: the detailed JSON (``status`` ``ok`` or ``degraded``: 200 or 503).
- ``/metrics``: Prometheus text.
"""
from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.metrics import ConnectorMetrics


class Probed(Protocol):
    """What the endpoint asks the service (``ConnectorService``)."""

    def liveness(self) -> tuple[bool, dict[str, Any]]: ...
    def readiness(self) -> tuple[bool, dict[str, Any]]: ...
    def health(self) -> dict[str, Any]: ...


async def start_health_server(service: Probed, metrics: ConnectorMetrics, host: str, port: int) -> web.AppRunner:
    """Serve on ``host:port`` from the running event loop; the caller cleans the runner up."""

    def verdict(ok_doc: tuple[bool, dict[str, Any]]) -> web.Response:
        ok, doc = ok_doc
        return web.json_response(doc, status=200 if ok else 503)

    async def livez(_: web.Request) -> web.Response:
        return verdict(service.liveness())

    async def readyz(_: web.Request) -> web.Response:
        return verdict(service.readiness())

    async def health(_: web.Request) -> web.Response:
        doc = service.health()
        return web.json_response(doc, status=200 if doc.get("status") == "ok" else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_view)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
