"""A Polygon.io stocks cluster on loopback: the WebSocket (``T``, ``Q``, ``AM``) and ``/v3/trades/{ticker}``.

Fed with recorded trades through a ``Market``: a subscribed socket gets the trades that happen while it is
connected (with a quote derived from each, and a minute aggregate when a minute completes); the REST
endpoint pages through every trade that has happened, as Polygon's history does.
"""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from connectors.es_sample import Trade
from tickflow_testkit.simulators.market import Market, quote_around
from tickflow_testkit.simulators.server import WebSimulator, hold_still

EXCHANGE = 4  # the exchange id the simulated trades carry (any fixed id will do)


def minute_aggregates(trades: list[Trade], symbol: str) -> dict[int, dict[str, Any]]:
    """Index of the last trade of each minute → Polygon ``AM`` event for that minute."""
    out: dict[int, dict[str, Any]] = {}
    i = 0
    while i < len(trades):
        minute = trades[i].ts_ns // 60_000_000_000
        j = i
        o = h = l = c = Decimal(trades[i].price)
        vol = Decimal(0)
        notional = Decimal(0)
        while j < len(trades) and trades[j].ts_ns // 60_000_000_000 == minute:
            p, s = Decimal(trades[j].price), Decimal(trades[j].size)
            h, l, c = max(h, p), min(l, p), p
            vol += s
            notional += p * s
            j += 1
        start_ms = minute * 60_000
        out[j - 1] = {"ev": "AM", "sym": symbol, "v": int(vol), "av": int(vol), "op": o, "vw": round(notional / vol, 4),
                      "o": o, "c": c, "h": h, "l": l, "a": round(notional / vol, 4), "z": 0,
                      "s": start_ms, "e": start_ms + 60_000}
        i = j
    return out


def trade_event(t: Trade, symbol: str) -> dict[str, Any]:
    return {"ev": "T", "sym": symbol, "x": EXCHANGE, "i": str(t.index + 1), "z": 1, "p": Decimal(t.price),
            "s": int(Decimal(t.size)), "c": [], "t": t.ts_ns // 1_000_000, "q": t.index + 1}


def quote_event(t: Trade, symbol: str) -> dict[str, Any]:
    bid, bid_size, ask, ask_size = quote_around(t)
    return {"ev": "Q", "sym": symbol, "bx": EXCHANGE, "bp": Decimal(bid), "bs": int(Decimal(bid_size)),
            "ax": EXCHANGE, "ap": Decimal(ask), "as": int(ask_size), "c": 0, "i": [], "t": t.ts_ns // 1_000_000,
            "q": t.index + 1, "z": 1}


def key_of(request: web.Request) -> str | None:
    """The key of a REST request as Polygon takes it: ``Authorization: Bearer KEY`` or ``?apiKey=KEY``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    return request.query.get("apiKey")


def rest_trade_row(t: Trade) -> dict[str, Any]:
    """A trade as ``/v3/trades`` lists it."""
    return {"conditions": [], "exchange": EXCHANGE, "id": str(t.index + 1), "participant_timestamp": t.ts_ns,
            "price": Decimal(t.price), "sequence_number": t.index + 1, "sip_timestamp": t.ts_ns,
            "size": int(Decimal(t.size)), "tape": 1}


def _prepare(obj: Any) -> Any:
    """Decimals as JSON numbers, as Polygon sends prices. A float's repr is the shortest text that reads
    back to it, so a price such as 1640.25 is written exactly."""
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _prepare(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_prepare(v) for v in obj]
    return obj


def encode_events(events: list[dict[str, Any]]) -> str:
    return json.dumps(_prepare(events), separators=(",", ":"))


class PolygonSimulator(WebSimulator):
    """Serves ``/stocks`` (WebSocket) and ``/v3/trades/{ticker}`` for one symbol's recorded trades."""

    def __init__(self, market: Market, symbol: str = "ES", api_key: str = "test-key", host: str = "127.0.0.1",
                 port: int = 0, max_events_per_frame: int = 1000) -> None:
        super().__init__(host, port)
        self.market = market
        self.symbol = symbol
        self.api_key = api_key
        self.max_events = max_events_per_frame
        self.aggregates = minute_aggregates(market.trades, symbol)
        self.frames_sent = 0
        self.garbage_sent = 0
        self.rest_requests = 0
        self.subscriptions = 0  # subscribe requests acknowledged (tests open the market after the first)

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stocks"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_options(self) -> dict[str, str]:
        """The provider-config options that point a connector at this simulator."""
        return {"ws_url": self.ws_url, "rest_url": self.rest_url}

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/stocks", self._websocket)
        app.router.add_get("/v3/trades/{ticker}", self._trades)

    # --- WebSocket ----------------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            await ws.send_str(encode_events([{"ev": "status", "status": "connected",
                                              "message": "Connected Successfully"}]))
            auth = await ws.receive_json(timeout=30)
            if self.faults.refuse_auth or auth.get("action") != "auth" or auth.get("params") != self.api_key:
                await ws.send_str(encode_events([{"ev": "status", "status": "auth_failed",
                                                  "message": "authentication failed"}]))
                await ws.close()
                return ws
            await ws.send_str(encode_events([{"ev": "status", "status": "auth_success", "message": "authenticated"}]))
            sub = await ws.receive_json(timeout=30)
            params = [p for p in str(sub.get("params", "")).split(",") if p]
            channels = {p.split(".", 1)[0] for p in params if p.split(".", 1)[-1] in (self.symbol, "*")}
            cursor = self.market.happened()  # live from here: fixed before the client sees the ack
            await ws.send_str(encode_events([{"ev": "status", "status": "success", "message": f"subscribed to: {p}"}
                                             for p in params]))
            self.subscriptions += 1
            reader = asyncio.ensure_future(self._read_until_closed(ws))
            try:
                await self._send_market(ws, channels, cursor)
            finally:
                reader.cancel()
        except (TimeoutError, ConnectionResetError, TypeError, ValueError, RuntimeError):
            pass
        finally:
            self.sockets.discard(ws)
        return ws

    async def _read_until_closed(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            if self.faults.stalled:  # not reading: pings are not answered
                await asyncio.sleep(0.05)
                continue
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                return

    async def _send_market(self, ws: web.WebSocketResponse, channels: set[str], cursor: int) -> None:
        paused = False
        while not ws.closed:
            paused = hold_still(ws._req.transport if ws._req else None, self.faults.stalled, paused)
            if self.faults.stalled:
                await asyncio.sleep(0.05)
                continue
            upto = min(self.market.happened(), cursor + self.max_events)
            if upto == cursor:
                await asyncio.sleep(0.005)
                continue
            events: list[dict[str, Any]] = []
            for t in self.market.trades[cursor:upto]:
                if "T" in channels:
                    events.append(trade_event(t, self.symbol))
                if "Q" in channels:
                    events.append(quote_event(t, self.symbol))
                if "AM" in channels and t.index in self.aggregates:
                    events.append(self.aggregates[t.index])
            cursor = upto
            if events:
                await ws.send_str(encode_events(events))
                self.frames_sent += 1
                if self.faults.garbage_every and self.frames_sent % self.faults.garbage_every == 0:
                    await ws.send_str('[{"ev":"T","sym":"' + self.symbol + '","p":"not-a-price"')
                    self.garbage_sent += 1
            await asyncio.sleep(0)

    # --- REST ---------------------------------------------------------------------------------------
    async def _trades(self, request: web.Request) -> web.Response:
        self.rest_requests += 1
        q = request.query
        if key_of(request) != self.api_key:
            return web.json_response({"status": "ERROR", "request_id": "sim", "error": "Unknown API Key"}, status=401)
        status = self.faults.take_http_error()
        if status == 429:
            return web.json_response({"status": "ERROR", "request_id": "sim",
                                      "error": "You've exceeded the maximum requests per minute, please wait "
                                               "or upgrade your subscription to continue."}, status=429)
        if status:
            return web.json_response({"status": "ERROR", "request_id": "sim", "error": "internal error"},
                                     status=status)
        if request.match_info["ticker"] != self.symbol:
            return web.json_response({"status": "OK", "request_id": "sim", "results": []})
        limit = min(50_000, int(q.get("limit", 1000)))
        if "cursor" in q:
            since, after = (int(x) for x in q["cursor"].split("-"))
        else:
            since, after = int(q.get("timestamp.gte", 0)), -1
        rows = self.market.history(since, limit, after)
        doc: dict[str, Any] = {"status": "OK", "request_id": "sim", "results": [rest_trade_row(t) for t in rows]}
        if len(rows) == limit:
            doc["next_url"] = f"{self.rest_url}/v3/trades/{self.symbol}?cursor={since}-{rows[-1].index}&limit={limit}"
        return web.Response(text=json.dumps(_prepare(doc), separators=(",", ":")), content_type="application/json")
