"""HTTP GETs against providers' REST APIs: rate-limited, retried with backoff, errors named once."""
from __future__ import annotations

import asyncio
import json
import logging
import re
from decimal import Decimal
from typing import Any

import aiohttp

from connectors.backoff import Backoff
from connectors.metrics import ConnectorMetrics
from connectors.provider import AuthError, ProviderError
from connectors.rate_limit import TokenBucket

log = logging.getLogger("tickflow.connectors.rest")
_SECRET_PARAM = re.compile(r"(?i)\b(api_?key|token)=[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` with the values of key-carrying query parameters replaced (errors quote URLs)."""
    return _SECRET_PARAM.sub(r"\1=***", text)


class RestClient:
    """One provider's HTTP client. 429 honours ``Retry-After``; 5xx and timeouts back off and retry;
    401/403 raise ``AuthError``; other 4xx raise ``ProviderError`` at once (retrying cannot help)."""

    def __init__(self, provider: str, metrics: ConnectorMetrics, limiter: TokenBucket | None = None,
                 retries: int = 6, backoff: Backoff | None = None, timeout_s: float = 10.0) -> None:
        self.provider = provider
        self.metrics = metrics
        self.limiter = limiter
        self.retries = retries
        self.backoff = backoff or Backoff(base=0.2, cap=10.0)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
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
                async with http.get(url, params=params) as resp:
                    body = await resp.read()
                    if resp.status == 200:
                        return body
                    last = redact(f"HTTP {resp.status} from {url}: {body[:200]!r}")
                    if resp.status in (401, 403):
                        raise AuthError(f"{self.provider}: credentials refused ({last})")
                    if resp.status == 429:
                        pause = _retry_after(resp.headers.get("Retry-After")) or self.backoff.next_delay()
                        self.metrics.rate_limit_waits.labels(self.provider).inc()
                        self.metrics.rate_limit_wait_seconds.labels(self.provider).inc(pause)
                    elif resp.status >= 500:
                        pause = self.backoff.next_delay()
                    else:
                        raise ProviderError(f"{self.provider}: {last}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                last = redact(f"{type(exc).__name__} on {url}: {exc}")
                pause = self.backoff.next_delay()
            if attempt < self.retries:
                self.metrics.retries.labels(self.provider).inc()
                log.info("%s: retrying in %.2fs after %s", self.provider, pause, last)
                await asyncio.sleep(pause)
        raise ProviderError(f"{self.provider}: gave up after {self.retries + 1} attempts: {last}")

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
        return json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise ProviderError(f"{provider}: response from {url} is not JSON: {exc}") from None


def _retry_after(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
