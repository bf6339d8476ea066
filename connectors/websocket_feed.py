"""What the WebSocket providers share: connecting with a heartbeat and a frame size limit, and reading
frames with an idle limit."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from connectors.metrics import ConnectorMetrics
from connectors.provider import AuthError, Malformed, ProviderError
from connectors.redaction import redact

_LOST = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)
#: the largest frame read by default; a provider's ``max_frame_bytes`` option changes it
DEFAULT_MAX_FRAME_BYTES = 4 << 20


class FrameTooLarge(ProviderError):
    """The server sent a frame past ``max_frame_bytes``; the connection is closed (code 1009) and the
    service reconnects."""


async def connect(http: aiohttp.ClientSession, provider: str, url: str, heartbeat_s: float,
                  params: dict[str, str] | None = None, key_env: str | None = None,
                  max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> aiohttp.ClientWebSocketResponse:
    """Open the socket; a ping every ``heartbeat_s`` without a pong within half of it closes it (half-open).
    A frame larger than ``max_frame_bytes`` is not buffered: ``frames`` raises ``FrameTooLarge``."""
    try:
        return await http.ws_connect(url, params=params, heartbeat=heartbeat_s, max_msg_size=max_frame_bytes)
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status in (401, 403):
            raise AuthError(f"{provider}: key refused (HTTP {exc.status}; check ${key_env})") from None
        raise ProviderError(f"{provider}: handshake failed: HTTP {exc.status}") from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise ProviderError(redact(f"{provider}: cannot connect to {url}: {exc}")) from None


async def frames(ws: aiohttp.ClientWebSocketResponse, provider: str, idle_timeout_s: float,
                 metrics: ConnectorMetrics | None = None) -> AsyncIterator[str | Malformed]:
    """Text frames as they come; a binary frame is ``Malformed``. A closed socket, or no frame at all for
    ``idle_timeout_s`` (pongs do not count: a server that answers pings but sends nothing is stalled),
    raises ``ProviderError``; a frame past the size limit raises ``FrameTooLarge`` (counted in
    ``tickflow_connector_errors_total{kind="frame_too_large"}``)."""
    last = time.monotonic()
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), max(0.01, last + idle_timeout_s - time.monotonic()))
        except TimeoutError:
            raise ProviderError(f"{provider}: no frame for {idle_timeout_s:.0f}s") from None
        last = time.monotonic()
        if msg.type == aiohttp.WSMsgType.TEXT:
            yield msg.data
        elif is_too_large(msg):
            if metrics is not None:
                metrics.errors.labels(provider, "frame_too_large").inc()
            raise FrameTooLarge(f"{provider}: {msg.data}")
        elif msg.type in _LOST:
            raise ProviderError(redact(f"{provider}: connection lost ({msg.type.name}: "
                                       f"{ws.exception() or msg.extra})"[:300]))
        else:
            yield Malformed(f"{provider} sent a {msg.type.name} frame", bytes(msg.data or b""))


def is_too_large(msg: aiohttp.WSMessage) -> bool:
    """True for the error aiohttp reports when a frame passes ``max_msg_size``."""
    return (msg.type == aiohttp.WSMsgType.ERROR and isinstance(msg.data, aiohttp.WebSocketError)
            and msg.data.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG)


class LogOnce:
    """Logs a message the first time its key is seen; repeats go nowhere (they are counted in metrics).

    At most ``max_keys`` keys are remembered: a provider sending endless distinct message types cannot
    grow it, and once it is full new keys are not logged either.
    """

    def __init__(self, log: logging.Logger, max_keys: int = 1000) -> None:
        self.log = log
        self.max_keys = max_keys
        self.seen: set[str] = set()

    def __call__(self, key: str, fmt: str, *args: Any) -> None:
        if key not in self.seen and len(self.seen) < self.max_keys:
            self.seen.add(key)
            self.log.warning(fmt, *args)
