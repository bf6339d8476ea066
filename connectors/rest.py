"""HTTP GETs against providers' REST APIs: rate-limited, retried with backoff, bounded, errors named once.

Nothing a server sends can make a request allocate or wait without bound: a body larger than
``max_body_bytes`` (default 64 MiB, counted after decompression) ends the request with a
``ProviderError``; ``Retry-After`` is honoured only as a finite delay of at most ``MAX_RETRY_AFTER_S``
(anything else falls back to the backoff); redirects are not followed, so a key sent in a header never
reaches another host.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from connectors import wire_json
from connectors.backoff import Backoff
from connectors.metrics import ConnectorMetrics
from connectors.provider import AuthError, ProviderError
from connectors.rate_limit import TokenBucket
from connectors.redaction import redact

log = logging.getLogger("tickflow.connectors.rest")
MAX_RETRY_AFTER_S = 300.0
DEFAULT_MAX_BODY_BYTES = 64 << 20
_READ_CHUNK = 1 << 16
_DELAY_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MAX_RETRY_AFTER_S", "BodyTooLarge", "RestClient", "json_body", "redact",
           "retry_after_s"]


class BodyTooLarge(ProviderError):
    """A response body past the configured cap (not retried: the same request would get the same body)."""


class RestClient:
    """One provider's HTTP client. 429 honours ``Retry-After``; 5xx and timeouts back off and retry;
    401/403 raise ``AuthError``; other 4xx and 3xx raise ``ProviderError`` at once (retrying cannot help).

    ``headers`` go with every request (the provider's key where it accepts one in a header).
    """

    def __init__(self, provider: str, metrics: ConnectorMetrics, limiter: TokenBucket | None = None,
                 retries: int = 6, backoff: Backoff | None = None, timeout_s: float = 10.0,
                 headers: dict[str, str] | None = None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.provider = provider
        self.metrics = metrics
        self.limiter = limiter
        self.retries = retries
        self.backoff = backoff or Backoff(base=0.2, cap=10.0)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.headers = dict(headers or {})
        self.max_body_bytes = max_body_bytes
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def _limit(self) -> None:
        if self.limiter is None:
            return
        waited = await self.limiter.acquire()
        if waited > 0:
            self.metrics.rate_limit_waits.labels(self.provider).inc()
            self.metrics.rate_limit_wait_seconds.labels(self.provider).inc(waited)

    async def get(self, url: str, params: dict[str, Any] | None = None) -> bytes:
        """The response body of a successful GET; raises ``AuthError`` or ``ProviderError``."""
        self.backoff.reset()
        last = ""
        for attempt in range(self.retries + 1):
            await self._limit()
            try:
                http = await self._http()
                async with http.get(url, params=params, headers=self.headers, allow_redirects=False) as resp:
                    body = await self._read(resp, url)
                    if resp.status == 200:
                        return body
                    last = redact(f"HTTP {resp.status} from {url}: {body[:200]!r}")
                    if resp.status in (401, 403):
                        raise AuthError(f"{self.provider}: credentials refused ({last})")
                    if resp.status == 429:
                        pause = retry_after_s(resp.headers.get("Retry-After"))
                        pause = self.backoff.next_delay() if pause is None else pause
                        self.metrics.rate_limit_waits.labels(self.provider).inc()
                        self.metrics.rate_limit_wait_seconds.labels(self.provider).inc(pause)
                    elif resp.status >= 500:
                        pause = self.backoff.next_delay()
                    else:
                        raise ProviderError(f"{self.provider}: {last}")
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = redact(f"{type(exc).__name__} on {url}: {exc}")
                pause = self.backoff.next_delay()
            if attempt < self.retries:
                self.metrics.retries.labels(self.provider).inc()
                log.info("%s: retrying in %.2fs after %s", self.provider, pause, last)
                await asyncio.sleep(pause)
        raise ProviderError(f"{self.provider}: gave up after {self.retries + 1} attempts: {last}")

    async def _read(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        """The body, or BodyTooLarge as soon as it passes ``max_body_bytes`` (declared or read)."""
        cap = self.max_body_bytes
        declared = resp.content_length
        if declared is not None and declared > cap:
            self._too_large(url, f"declares {declared} bytes")
        body = bytearray()
        while chunk := await resp.content.read(_READ_CHUNK):
            body += chunk
            if len(body) > cap:
                self._too_large(url, f"passed {cap} bytes")
        return bytes(body)

    def _too_large(self, url: str, what: str) -> None:
        self.metrics.errors.labels(self.provider, "body_too_large").inc()
        raise BodyTooLarge(redact(f"{self.provider}: response from {url} {what} (max_body_bytes is "
                                  f"{self.max_body_bytes})"))

    async def get_json(self, url: str, params: dict[str, Any] | None = None) -> tuple[Any, bytes]:
        """(parsed JSON with numbers as ``Decimal``, raw body)."""
        body = await self.get(url, params)
        return json_body(self.provider, url, body), body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def json_body(provider: str, url: str, body: bytes) -> Any:
    """A response body parsed as JSON with numbers as ``Decimal``; ProviderError when it is not JSON."""
    try:
        return wire_json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise ProviderError(redact(f"{provider}: response from {url} is not JSON: {exc}")) from None


def retry_after_s(header: str | None, now: datetime | None = None) -> float | None:
    """The pause a 429's ``Retry-After`` asks for: delay-seconds, or an HTTP date (a past one is 0), at most
    ``MAX_RETRY_AFTER_S``; None (use the backoff) for anything else: absent, negative, not finite, garbled."""
    if not header or len(header) > 64:
        return None
    text = header.strip()
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return min(MAX_RETRY_AFTER_S, seconds) if math.isfinite(seconds) else None
