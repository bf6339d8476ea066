"""Finnhub on loopback: the trades WebSocket and ``/api/v1/stock/tick``, fed by a ``Market``."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from connectors.es_sample import Trade
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.server import WebSimulator, hold_still

EXCHANGE = "CME"


def _number(text: str) -> float | int:
    d = Decimal(text)
    return int(d) if d == d.to_integral_value() else float(d)


def trade_item(t: Trade, symbol: str) -> dict[str, Any]:
    return {"s": symbol, "p": _number(t.price), "v": _number(t.size), "t": t.ts_ns // 1_000_000, "c": ["1"]}


def tick_doc(symbol: str, skip: int, total: int, rows: list[Trade]) -> dict[str, Any]:
    """A ``/stock/tick`` answer: ``rows`` from ``skip`` of the day's ``total`` ticks, as parallel arrays."""
    return {"s": symbol, "skip": skip, "count": len(rows), "total": total,
            "t": [t.ts_ns // 1_000_000 for t in rows], "p": [_number(t.price) for t in rows],
            "v": [_number(t.size) for t in rows], "x": [EXCHANGE] * len(rows), "c": [["1"] for _ in rows]}


def utc_day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).date().isoformat()


class FinnhubSimulator(WebSimulator):
    """Serves the WebSocket at ``/`` and tick history at ``/api/v1/stock/tick`` (days are UTC dates)."""

    def __init__(self, market: Market, symbol: str = "ES", api_key: str = "test-key", host: str = "127.0.0.1",
                 port: int = 0, ping_every_s: float = 5.0, max_trades_per_frame: int = 500) -> None:
        super().__init__(host, port)
        self.market = market
        self.symbol = symbol
        self.api_key = api_key
        self.ping_every_s = ping_every_s
        self.max_trades = max_trades_per_frame
        self.frames_sent = 0
        self.garbage_sent = 0
        self.rest_requests = 0
        self.subscriptions = 0  # subscribe messages processed (tests open the market after the first)
        self._days: dict[str, tuple[int, int]] = {}
        for t in market.trades:
            day = utc_day(t.ts_ns)
            lo, _ = self._days.get(day, (t.index, t.index))
            self._days[day] = (lo, t.index + 1)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1"

    def client_options(self) -> dict[str, str]:
        """The provider-config options that point a connector at this simulator."""
        return {"ws_url": self.ws_url, "rest_url": self.rest_url}

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._websocket)
        app.router.add_get("/api/v1/stock/tick", self._ticks)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self.faults.refuse_auth or request.query.get("token") != self.api_key:
            return web.Response(status=401, text="Invalid API key")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.add(ws)
        subscribed: set[str] = set()
        reader = asyncio.ensure_future(self._read(ws, subscribed))
        try:
            cursor = self.market.happened()
            last_ping = asyncio.get_running_loop().time()
            paused = False
            while not ws.closed:
                paused = hold_still(ws._req.transport if ws._req else None, self.faults.stalled, paused)
                if self.faults.stalled:
                    await asyncio.sleep(0.05)
                    continue
                now = asyncio.get_running_loop().time()
                if now - last_ping >= self.ping_every_s:
                    await ws.send_str('{"type":"ping"}')
                    last_ping = now
                upto = min(self.market.happened(), cursor + self.max_trades)
                if upto == cursor or self.symbol not in subscribed:
                    cursor = upto if self.symbol not in subscribed else cursor
                    await asyncio.sleep(0.005)
                    continue
                data = [trade_item(t, self.symbol) for t in self.market.trades[cursor:upto]]
                cursor = upto
                await ws.send_str(json.dumps({"data": data, "type": "trade"}, separators=(",", ":")))
                self.frames_sent += 1
                if self.faults.garbage_every and self.frames_sent % self.faults.garbage_every == 0:
                    await ws.send_str('{"data":[{"s":"' + self.symbol + '","p":"NaN?","t":"x"}],"type":"trade"}')
                    self.garbage_sent += 1
                await asyncio.sleep(0)
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            reader.cancel()
            self.sockets.discard(ws)
        return ws

    async def _read(self, ws: web.WebSocketResponse, subscribed: set[str]) -> None:
        while not ws.closed:
            if self.faults.stalled:
                await asyncio.sleep(0.05)
                continue
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT:
                try:
                    doc = json.loads(msg.data)
                except ValueError:
                    await ws.send_str('{"type":"error","msg":"Invalid message"}')
                    continue
                if doc.get("type") == "subscribe":
                    subscribed.add(str(doc.get("symbol")))
                    self.subscriptions += 1
                elif doc.get("type") == "unsubscribe":
                    subscribed.discard(str(doc.get("symbol")))
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                return

    async def _ticks(self, request: web.Request) -> web.Response:
        self.rest_requests += 1
        q = request.query
        if request.headers.get("X-Finnhub-Token", q.get("token")) != self.api_key:
            return web.json_response({"error": "Invalid API key"}, status=401)
        status = self.faults.take_http_error()
        if status == 429:
            return web.json_response({"error": "API limit reached. Please try again later. Remaining Limit: 0"},
                                     status=429)
        if status:
            return web.json_response({"error": "Internal server error"}, status=status)
        symbol, day = q.get("symbol", ""), q.get("date", "")
        skip, limit = int(q.get("skip", 0)), min(25_000, int(q.get("limit", 25_000)))
        lo, hi = self._days.get(day, (0, 0)) if symbol == self.symbol else (0, 0)
        hi = min(hi, self.market.happened())
        total = max(0, hi - lo)
        rows = self.market.trades[lo + skip:min(hi, lo + skip + limit)] if skip < total else []
        return web.json_response(tick_doc(symbol, skip, total, rows))
