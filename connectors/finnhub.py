"""Finnhub: the trades WebSocket, and the tick-history REST endpoint for backfill.

Protocol (as Finnhub speaks it): connect to ``<ws_url>?token=KEY`` (a bad key fails the handshake with
HTTP 401), send ``{"type":"subscribe","symbol":S}`` per symbol; the server sends
``{"type":"trade","data":[{"s":S,"p":price,"v":volume,"t":ms,"c":[conditions]}]}`` and
``{"type":"ping"}`` keep-alives. History: ``GET /stock/tick?symbol=&date=YYYY-MM-DD&skip=&limit=&token=``
answers parallel arrays ``t, p, v, x, c`` with ``total`` ticks that day.

Finnhub trades carry no id and no sequence number: ``trade_id`` is null and the service assigns ``seq``
from the trade's millisecond and its position within it (``seq_from_position``), so the same trade gets the
same ``seq`` whether it came live or from a backfill.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from connectors import websocket_feed, wire_json
from connectors.decimals import decimal_text
from connectors.fields import (
    MAX_MS,
    conditions_field,
    int_field,
    ms_to_ns,
    short,
    symbol_field,
    symbol_or_blank,
)
from connectors.metrics import ConnectorMetrics
from connectors.provider import Malformed, Provider, ProviderError, Record
from connectors.provider_config import ProviderConfig
from connectors.raw_contract import RawTrade
from connectors.rest import DEFAULT_MAX_BODY_BYTES, RestClient
from connectors.symbols import SymbolMap
from connectors.wire_json import dumps_or

log = logging.getLogger("tickflow.connectors.finnhub")
SOURCE = "finnhub"
MS = 1_000_000


def trade_from_ws(item: dict[str, Any], symbols: SymbolMap, recv_ns: int, venue: str | None) -> RawTrade:
    return RawTrade(SOURCE, symbol_field(item["s"], symbols), venue, ms_to_ns(item["t"], "t"), recv_ns, 0,
                    decimal_text(item["p"]), decimal_text(item["v"]), None, conditions_field(item.get("c")))


def parse_frame(frame: str, symbols: SymbolMap, recv_ns: int, venue: str | None) -> tuple[list[Record], str, str]:
    """(records, message type, error text) of one frame; bad frames or trades become ``Malformed``."""
    original = frame.encode("utf-8", "surrogatepass")
    try:
        doc = wire_json.loads(frame, parse_float=str)  # number text kept exact
    except ValueError as exc:
        return [Malformed(f"finnhub frame is not JSON: {exc}", original)], "", ""
    if not isinstance(doc, dict):
        return [Malformed("finnhub frame is not a JSON object", original)], "", ""
    kind = doc.get("type", "")
    if not isinstance(kind, str):
        return [Malformed(f"finnhub message type is {short(kind)}", original)], "", ""
    if kind != "trade":
        msg = doc.get("msg", "")
        return [], kind[:64], msg[:500] if isinstance(msg, str) else short(msg)
    data = doc.get("data")
    if data is None:
        return [], kind, ""
    if not isinstance(data, list):
        return [Malformed(f"finnhub trade message's data is {short(data)}, not a list", original)], kind, ""
    records: list[Record] = []
    for item in data:
        try:
            if not isinstance(item, dict):
                raise TypeError(f"a trade is {short(item)}, not an object")
            records.append(trade_from_ws(item, symbols, recv_ns, venue))
        except (KeyError, TypeError, ValueError) as exc:
            records.append(Malformed(f"finnhub trade cannot be normalised: {type(exc).__name__}: {exc}",
                                     dumps_or(item, original),
                                     symbol_or_blank(item.get("s")) if isinstance(item, dict) else ""))
    return records, kind, ""


def trades_from_ticks(doc: dict[str, Any], symbol: str, recv_ns: int, venue: str | None) -> list[Record]:
    """A ``tick_page``'s parallel arrays as trades (``Malformed`` for a tick that does not normalise)."""
    out: list[Record] = []
    times, prices, volumes = doc.get("t") or [], doc.get("p") or [], doc.get("v") or []
    conds = doc.get("c") or [None] * len(times)
    for t, p, v, c in zip(times, prices, volumes, conds):
        try:
            out.append(RawTrade(SOURCE, symbol, venue, ms_to_ns(t, "t"), recv_ns, 0, decimal_text(p), decimal_text(v),
                                None, conditions_field(c)))
        except (TypeError, ValueError) as exc:
            out.append(Malformed(f"finnhub tick cannot be normalised: {type(exc).__name__}: {exc}",
                                 dumps_or({"t": t, "p": p, "v": v, "c": c}, b""), symbol))
    return out


def tick_page(doc: Any, body: bytes) -> dict[str, Any]:
    """``doc`` when it is a tick-history answer: a ``total`` count and parallel arrays ``t``, ``p``, ``v``
    (and optionally ``c``) of one length. ProviderError otherwise: a tick cannot be lost silently."""
    if not isinstance(doc, dict) or not isinstance(doc.get("t", []), list):
        raise ProviderError(f"finnhub: unexpected tick response: {body[:200]!r}")
    n = len(doc.get("t", []))
    for name in ("p", "v", "c"):
        column = doc.get(name)
        if column is None and (name == "c" or not n):
            continue
        if not (isinstance(column, list) and len(column) == n):
            raise ProviderError(f"finnhub: tick response's '{name}' is not a list of {n} values: {body[:200]!r}")
    try:
        int_field(doc.get("total", 0), "total")
    except ValueError as exc:
        raise ProviderError(f"finnhub: tick response's {exc}") from None
    return doc


def tick_total(doc: dict[str, Any]) -> int:
    """How many ticks the day has, as a ``tick_page`` says."""
    return int_field(doc.get("total", 0), "total")


def first_tick_ms(doc: dict[str, Any]) -> int:
    """The time (ms) of a ``tick_page``'s first tick; 0 when it has none. ProviderError for a bad time."""
    t = doc.get("t") or [0]
    try:
        return int_field(t[0], "t", 0, MAX_MS)
    except ValueError as exc:
        raise ProviderError(f"finnhub: first tick's {exc}") from None


class FinnhubProvider(Provider):
    name = SOURCE
    can_backfill = True
    seq_from_position = True

    def __init__(self, cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.key = secret or ""
        self.ws_url: str = cfg.options.get("ws_url", "ws://127.0.0.1:8766/")
        self.rest_url: str = cfg.options.get("rest_url", "http://127.0.0.1:8766/api/v1").rstrip("/")
        self.venue: str | None = cfg.options.get("venue")
        self.heartbeat_s = float(cfg.options.get("heartbeat_s", 5.0))
        self.idle_timeout_s = float(cfg.options.get("idle_timeout_s", 120.0))
        self.page_limit = int(cfg.options.get("page_limit", 25_000))
        self.backfill_days = int(cfg.options.get("backfill_days", 3))
        self.max_frame_bytes = int(cfg.options.get("max_frame_bytes", websocket_feed.DEFAULT_MAX_FRAME_BYTES))
        # REST: the key in Finnhub's header; the socket only takes it as the ?token= parameter (redacted)
        self.rest = RestClient(SOURCE, metrics, cfg.limiter(), headers={"X-Finnhub-Token": self.key},
                               max_body_bytes=int(cfg.options.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)))
        self._http: aiohttp.ClientSession | None = None
        self._log_once = websocket_feed.LogOnce(log)

    async def stream(self, symbols: list[str]) -> AsyncGenerator[list[Record], None]:
        self._http = self._http or aiohttp.ClientSession()
        ws = await websocket_feed.connect(self._http, SOURCE, self.ws_url, self.heartbeat_s,
                                          params={"token": self.key}, key_env=self.cfg.key_env,
                                          max_frame_bytes=self.max_frame_bytes)
        try:
            for s in symbols:
                await ws.send_str(json.dumps({"type": "subscribe", "symbol": self.cfg.symbols.to_provider(s)}))
            yield []
            async for frame in websocket_feed.frames(ws, SOURCE, self.idle_timeout_s, self.metrics):
                if isinstance(frame, Malformed):
                    yield [frame]
                    continue
                records, kind, error = parse_frame(frame, self.cfg.symbols, time.time_ns(), self.venue)
                if kind == "error":
                    self.metrics.errors.labels(SOURCE, "server_error").inc()
                    self._log_once(f"error:{error}", "finnhub: server error: %s", error)
                elif kind not in ("", "trade", "ping"):
                    self.metrics.errors.labels(SOURCE, "unknown_message").inc()
                    self._log_once(kind, "finnhub: ignoring message type %r", kind)
                if records:
                    yield records
        finally:
            await ws.close()

    async def _ticks(self, ticker: str, day: str, skip: int, limit: int) -> dict[str, Any]:
        doc, body = await self.rest.get_json(f"{self.rest_url}/stock/tick", {
            "symbol": ticker, "date": day, "skip": skip, "limit": limit})
        return tick_page(doc, body)

    async def _first_skip_at_or_after(self, ticker: str, day: str, since_ns: int) -> int:
        """Binary search (one-tick requests) for the first tick of ``day`` at or after ``since_ns``."""
        total = tick_total(await self._ticks(ticker, day, 0, 1))
        lo, hi = 0, total
        while lo < hi:
            mid = (lo + hi) // 2
            if first_tick_ms(await self._ticks(ticker, day, mid, 1)) * MS < since_ns:
                lo = mid + 1
            else:
                hi = mid
        return lo

    async def backfill(self, symbol: str, since_ns: int) -> AsyncIterator[list[Record]]:
        ticker = self.cfg.symbols.to_provider(symbol)
        since_ns = since_ns // MS * MS
        first = datetime.fromtimestamp(since_ns / 1e9, tz=UTC).date()
        today = datetime.now(UTC).date()
        for n in range(self.backfill_days + 1):
            day = first + timedelta(days=n)
            if day > today:
                break
            skip = await self._first_skip_at_or_after(ticker, day.isoformat(), since_ns) if n == 0 else 0
            while True:
                doc = await self._ticks(ticker, day.isoformat(), skip, self.page_limit)
                got = len(doc.get("t", []))
                if got:
                    yield trades_from_ticks(doc, symbol, time.time_ns(), self.venue)
                skip += got
                if got < self.page_limit:
                    break

    async def close(self) -> None:
        await self.rest.close()
        if self._http is not None:
            await self._http.close()
            self._http = None


def create(cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> FinnhubProvider:
    return FinnhubProvider(cfg, metrics, secret)
