"""What the WebSocket providers share: connecting with a heartbeat, and reading frames with an idle limit."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator

import aiohttp

from connectors.provider import AuthError, Malformed, ProviderError
from connectors.rest import redact

_LOST = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)


async def connect(http: aiohttp.ClientSession, provider: str, url: str, heartbeat_s: float,
                  params: dict[str, str] | None = None, key_env: str | None = None
                  ) -> aiohttp.ClientWebSocketResponse:
    """Open the socket; a ping every ``heartbeat_s`` without a pong within half of it closes it (half-open)."""
    try:
        return await http.ws_connect(url, params=params, heartbeat=heartbeat_s, max_msg_size=0)
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status in (401, 403):
            raise AuthError(f"{provider}: key refused (HTTP {exc.status}; check ${key_env})") from None
        raise ProviderError(f"{provider}: handshake failed: HTTP {exc.status}") from None
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        raise ProviderError(redact(f"{provider}: cannot connect to {url}: {exc}")) from None


async def frames(ws: aiohttp.ClientWebSocketResponse, provider: str, idle_timeout_s: float
                 ) -> AsyncIterator[str | Malformed]:
    """Text frames as they come; a binary frame is ``Malformed``. A closed socket, or no frame at all for
    ``idle_timeout_s`` (pongs do not count: a server that answers pings but sends nothing is stalled),
    raises ``ProviderError``."""
    last = time.monotonic()
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), max(0.01, last + idle_timeout_s - time.monotonic()))
        except asyncio.TimeoutError:
            raise ProviderError(f"{provider}: no frame for {idle_timeout_s:.0f}s") from None
        last = time.monotonic()
        if msg.type == aiohttp.WSMsgType.TEXT:
            yield msg.data
        elif msg.type in _LOST:
            raise ProviderError(f"{provider}: connection lost ({msg.type.name}: {ws.exception() or msg.extra})")
        else:
            yield Malformed(f"{provider} sent a {msg.type.name} frame", bytes(msg.data or b""))


class LogOnce:
    """Logs a message the first time its key is seen; repeats go nowhere (they are counted in metrics)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.seen: set[str] = set()

    def __call__(self, key: str, fmt: str, *args: Any) -> None:
        if key not in self.seen:
            self.seen.add(key)
            self.log.warning(fmt, *args)
