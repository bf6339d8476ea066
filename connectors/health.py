"""The connector's HTTP endpoint: ``/health`` (JSON, 503 when no feed is connected) and ``/metrics``."""
from __future__ import annotations

from typing import Any, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.metrics import ConnectorMetrics


async def start_health_server(health: Callable[[], dict[str, Any]], metrics: ConnectorMetrics, host: str,
                              port: int) -> web.AppRunner:
    """Serve on ``host:port`` from the running event loop; the caller cleans the runner up."""

    async def health_view(_: web.Request) -> web.Response:
        doc = health()
        return web.json_response(doc, status=200 if doc.get("status") == "ok" else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/health", health_view)
    app.router.add_get("/metrics", metrics_view)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
