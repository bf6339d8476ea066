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
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import aiohttp

from connectors import websocket_feed
from connectors.decimals import decimal_text
from connectors.metrics import ConnectorMetrics
from connectors.provider import Malformed, Provider, ProviderError, Record
from connectors.provider_config import ProviderConfig
from connectors.raw_contract import RawTrade
from connectors.rest import RestClient
from connectors.symbols import SymbolMap

log = logging.getLogger("tickflow.connectors.finnhub")
SOURCE = "finnhub"
MS = 1_000_000


def trade_from_ws(item: dict[str, Any], symbols: SymbolMap, recv_ns: int, venue: str | None) -> RawTrade:
    return RawTrade(SOURCE, symbols.to_tickflow(str(item["s"])), venue, int(item["t"]) * MS, recv_ns, 0,
                    decimal_text(item["p"]), decimal_text(item["v"]), None,
                    tuple(str(c) for c in item.get("c") or ()))


def parse_frame(frame: str, symbols: SymbolMap, recv_ns: int, venue: str | None) -> tuple[list[Record], str, str]:
    """(records, message type, error text) of one frame; bad frames or trades become ``Malformed``."""
    try:
        doc = json.loads(frame, parse_float=str)  # number text kept exact
    except ValueError as exc:
        return [Malformed(f"finnhub frame is not JSON: {exc}", frame.encode())], "", ""
    if not isinstance(doc, dict):
        return [Malformed("finnhub frame is not a JSON object", frame.encode())], "", ""
    kind = str(doc.get("type", ""))
    if kind != "trade":
        return [], kind, str(doc.get("msg", ""))
    records: list[Record] = []
    for item in doc.get("data") or []:
        try:
            records.append(trade_from_ws(item, symbols, recv_ns, venue))
        except (KeyError, TypeError, ValueError) as exc:
            records.append(Malformed(f"finnhub trade cannot be normalised: {type(exc).__name__}: {exc}",
                                     json.dumps(item, default=str).encode(),
                                     str(item.get("s", "")) if isinstance(item, dict) else ""))
    return records, kind, ""


def trades_from_ticks(doc: dict[str, Any], symbol: str, recv_ns: int, venue: str | None) -> list[Record]:
    """The tick endpoint's parallel arrays as trades (``Malformed`` for a tick that does not normalise)."""
    out: list[Record] = []
    conds = doc.get("c") or [[] for _ in doc.get("t", [])]
    for t, p, v, c in zip(doc.get("t", []), doc.get("p", []), doc.get("v", []), conds):
        try:
            out.append(RawTrade(SOURCE, symbol, venue, int(t) * MS, recv_ns, 0, decimal_text(p), decimal_text(v),
                                None, tuple(str(x) for x in c or ())))
        except (TypeError, ValueError) as exc:
            out.append(Malformed(f"finnhub tick cannot be normalised: {exc}",
                                 json.dumps({"t": t, "p": p, "v": v}, default=str).encode(), symbol))
    return out


def tick_page(doc: Any, body: bytes) -> dict[str, Any]:
    """``doc`` when it is a tick-history answer; ProviderError otherwise."""
    if not isinstance(doc, dict) or not isinstance(doc.get("t", []), list):
        raise ProviderError(f"finnhub: unexpected tick response: {body[:200]!r}")
    return doc


def tick_total(doc: dict[str, Any]) -> int:
    """How many ticks the day has, as a tick-history answer says."""
    return int(doc.get("total", 0))


def first_tick_ms(doc: dict[str, Any]) -> int:
    """The time (ms) of an answer's first tick; 0 when it has none."""
    t = doc.get("t") or [0]
    return int(t[0])


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
        self.rest = RestClient(SOURCE, metrics, cfg.limiter())
        self._http: aiohttp.ClientSession | None = None
        self._log_once = websocket_feed.LogOnce(log)

    async def stream(self, symbols: list[str]) -> AsyncIterator[list[Record]]:
        self._http = self._http or aiohttp.ClientSession()
        ws = await websocket_feed.connect(self._http, SOURCE, self.ws_url, self.heartbeat_s,
                                          params={"token": self.key}, key_env=self.cfg.key_env)
        try:
            for s in symbols:
                await ws.send_str(json.dumps({"type": "subscribe", "symbol": self.cfg.symbols.to_provider(s)}))
            yield []
            async for frame in websocket_feed.frames(ws, SOURCE, self.idle_timeout_s):
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
            "symbol": ticker, "date": day, "skip": skip, "limit": limit, "token": self.key})
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
        first = datetime.fromtimestamp(since_ns / 1e9, tz=timezone.utc).date()
        today = datetime.now(timezone.utc).date()
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
