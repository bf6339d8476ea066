"""Polygon.io: the stocks WebSocket (trades ``T``, quotes ``Q``, minute aggregates ``AM``) and the v3 trades
REST endpoint for backfill.

Protocol (as Polygon speaks it): on connect the server sends ``[{"ev":"status","status":"connected"}]``;
the client sends ``{"action":"auth","params":KEY}`` and gets ``auth_success`` or ``auth_failed``; then
``{"action":"subscribe","params":"T.ES,Q.ES,AM.ES"}``. Every frame is a JSON array of events. Prices are
JSON numbers; they are parsed as ``Decimal`` so no float ever touches them.

Times: the stream's ``t`` is SIP time in ms, the REST ``sip_timestamp`` is ns. A trade gets one canonical
form whichever path delivered it, so both are truncated to the millisecond. Identity: ``trade_id`` is
``"<exchange>:<id>"`` (Polygon ids are unique per exchange), ``seq`` is Polygon's sequence number.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from connectors import websocket_feed, wire_json
from connectors.decimals import decimal_text
from connectors.fields import (
    conditions_field,
    int_field,
    is_clean_text,
    ms_to_ns,
    short,
    symbol_field,
    symbol_or_blank,
    text_field,
)
from connectors.metrics import ConnectorMetrics
from connectors.provider import AuthError, Malformed, Provider, ProviderError, Record
from connectors.provider_config import ProviderConfig
from connectors.raw_contract import RawBar, RawQuote, RawTrade
from connectors.rest import DEFAULT_MAX_BODY_BYTES, RestClient, redact
from connectors.symbols import SymbolMap
from connectors.wire_json import dumps_or

log = logging.getLogger("tickflow.connectors.polygon")
SOURCE = "polygon"
MS = 1_000_000


class Unknown(Exception):
    """An event type the adapter does not handle (counted and logged, not published)."""


def trade_from_ws(ev: dict[str, Any], symbols: SymbolMap, recv_ns: int, venue: str | None) -> RawTrade:
    return RawTrade(SOURCE, symbol_field(ev["sym"], symbols), venue, ms_to_ns(ev["t"], "t"), recv_ns,
                    int_field(ev["q"], "q"), decimal_text(ev["p"]), decimal_text(ev["s"]),
                    f"{int_field(ev['x'], 'x')}:{text_field(ev['i'], 'i', 40, ints=True)}",
                    conditions_field(ev.get("c")))


def quote_from_ws(ev: dict[str, Any], symbols: SymbolMap, recv_ns: int, venue: str | None) -> RawQuote:
    return RawQuote(SOURCE, symbol_field(ev["sym"], symbols), venue, ms_to_ns(ev["t"], "t"), recv_ns,
                    int_field(ev["q"], "q"), decimal_text(ev["bp"]), decimal_text(ev["bs"]), decimal_text(ev["ap"]),
                    decimal_text(ev["as"]))


def bar_from_ws(ev: dict[str, Any], symbols: SymbolMap, recv_ns: int) -> RawBar:
    vwap = ev.get("a")
    return RawBar(SOURCE, symbol_field(ev["sym"], symbols), "1m", ms_to_ns(ev["s"], "s"), decimal_text(ev["o"]),
                  decimal_text(ev["h"]), decimal_text(ev["l"]), decimal_text(ev["c"]), decimal_text(ev["v"]),
                  recv_ns, None if vwap is None else decimal_text(vwap), None)


def trade_from_rest(row: dict[str, Any], symbol: str, recv_ns: int, venue: str | None) -> RawTrade:
    return RawTrade(SOURCE, symbol, venue, int_field(row["sip_timestamp"], "sip_timestamp") // MS * MS, recv_ns,
                    int_field(row["sequence_number"], "sequence_number"), decimal_text(row["price"]),
                    decimal_text(row["size"]),
                    f"{int_field(row['exchange'], 'exchange')}:{text_field(row['id'], 'id', 40, ints=True)}",
                    conditions_field(row.get("conditions")))


def trades_page(doc: Any, body: bytes, symbol: str, recv_ns: int, venue: str | None, rest_url: str
                ) -> tuple[list[Record], str | None]:
    """(trades, next page's URL) of one ``/v3/trades`` answer; a row that cannot be normalised is one
    ``Malformed`` with its JSON. ProviderError when the answer is not a page of trades, or when its next
    page is not on ``rest_url``'s host (the key goes with every request)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("results", []), list):
        raise ProviderError(f"polygon: unexpected trades response: {body[:200]!r}")
    batch: list[Record] = []
    for row in doc.get("results", []):
        try:
            if not isinstance(row, dict):
                raise TypeError(f"a trade is {short(row)}, not an object")
            batch.append(trade_from_rest(row, symbol, recv_ns, venue))
        except (KeyError, TypeError, ValueError) as exc:
            batch.append(Malformed(f"polygon REST trade cannot be normalised: {type(exc).__name__}: {exc}",
                                   dumps_or(row, body), symbol))
    return batch, next_page(doc.get("next_url"), rest_url)


def next_page(next_url: object, rest_url: str) -> str | None:
    """``next_url`` when it is on the same scheme, host and port as ``rest_url``; ProviderError otherwise."""
    if next_url is None or next_url == "":
        return None
    if not isinstance(next_url, str) or len(next_url) > 4096 or not is_clean_text(next_url):
        raise ProviderError(f"polygon: next_url is not a URL: {short(next_url)}")
    try:
        ours, theirs = urlsplit(rest_url), urlsplit(next_url)
    except ValueError:  # e.g. a bracketed host that is not IPv6
        raise ProviderError(f"polygon: next_url is not a URL: {short(next_url)}") from None
    if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
        raise ProviderError(f"polygon: next_url leaves {ours.scheme}://{ours.netloc}: "
                            f"{redact(theirs.scheme + '://' + theirs.netloc)}")
    return next_url


def _kind(value: object) -> str:
    """An event type's name as logged and counted (bounded; a non-string type is named by its JSON type)."""
    return value[:64] if isinstance(value, str) else f"<{type(value).__name__}>"


def parse_frame(frame: str, symbols: SymbolMap, recv_ns: int, venue: str | None
                ) -> tuple[list[Record], list[dict[str, Any]], list[str]]:
    """(records, status events, unknown event types) of one WebSocket text frame.

    A frame that is not a JSON array is one ``Malformed``; an event that cannot be normalised is one
    ``Malformed`` carrying that event's JSON; the rest of the frame is still used.
    """
    original = frame.encode("utf-8", "surrogatepass")
    try:
        events = wire_json.loads(frame, parse_float=str)  # number text kept exact
    except ValueError as exc:
        return [Malformed(f"polygon frame is not JSON: {exc}", original)], [], []
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        return [Malformed("polygon frame is not a JSON array of events", original)], [], []
    records: list[Record] = []
    status: list[dict[str, Any]] = []
    unknown: list[str] = []
    for ev in events:
        kind = ev.get("ev") if isinstance(ev, dict) else None
        try:
            if kind == "T":
                records.append(trade_from_ws(ev, symbols, recv_ns, venue))
            elif kind == "Q":
                records.append(quote_from_ws(ev, symbols, recv_ns, venue))
            elif kind == "AM":
                records.append(bar_from_ws(ev, symbols, recv_ns))
            elif kind == "status":
                status.append(ev)
            else:
                unknown.append(_kind(kind))
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"polygon {kind} event cannot be normalised: {type(exc).__name__}: {exc}"
            records.append(Malformed(detail, dumps_or(ev, original), symbol_or_blank(ev.get("sym"))))
    return records, status, unknown


class PolygonProvider(Provider):
    name = SOURCE
    can_backfill = True

    def __init__(self, cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.key = secret or ""
        self.ws_url: str = cfg.options.get("ws_url", "ws://127.0.0.1:8765/stocks")
        self.rest_url: str = cfg.options.get("rest_url", "http://127.0.0.1:8765").rstrip("/")
        self.channels: list[str] = list(cfg.options.get("channels", ["T", "Q", "AM"]))
        self.venue: str | None = cfg.options.get("venue")
        self.heartbeat_s: float = float(cfg.options.get("heartbeat_s", 5.0))
        self.idle_timeout_s: float = float(cfg.options.get("idle_timeout_s", 120.0))
        self.page_limit: int = int(cfg.options.get("page_limit", 50_000))
        self.max_frame_bytes = int(cfg.options.get("max_frame_bytes", websocket_feed.DEFAULT_MAX_FRAME_BYTES))
        # the REST key goes in a header (Polygon accepts "Authorization: Bearer"), never in a URL
        self.rest = RestClient(SOURCE, metrics, cfg.limiter(), headers={"Authorization": f"Bearer {self.key}"},
                               max_body_bytes=int(cfg.options.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)))
        self._http: aiohttp.ClientSession | None = None
        self._log_once = websocket_feed.LogOnce(log)

    async def stream(self, symbols: list[str]) -> AsyncGenerator[list[Record], None]:
        self._http = self._http or aiohttp.ClientSession()
        ws = await websocket_feed.connect(self._http, SOURCE, self.ws_url, self.heartbeat_s,
                                          max_frame_bytes=self.max_frame_bytes)
        try:
            await self._login(ws, symbols)
            yield []  # subscribed: the service may backfill now
            async for frame in websocket_feed.frames(ws, SOURCE, self.idle_timeout_s, self.metrics):
                if isinstance(frame, Malformed):
                    yield [frame]
                    continue
                records, _, unknown = parse_frame(frame, self.cfg.symbols, time.time_ns(), self.venue)
                for kind in unknown:
                    self.metrics.errors.labels(SOURCE, "unknown_message").inc()
                    self._log_once(kind, "polygon: ignoring event type %r (first seen in %.120s)", kind, frame)
                if records:
                    yield records
        finally:
            await ws.close()

    async def _login(self, ws: aiohttp.ClientWebSocketResponse, symbols: list[str]) -> None:
        await self._expect(ws, {"connected"}, "greeting")
        await ws.send_str(json.dumps({"action": "auth", "params": self.key}))
        status = await self._expect(ws, {"auth_success", "auth_failed"}, "auth reply")
        if status == "auth_failed":
            raise AuthError("polygon: authentication failed (check the key in $" + str(self.cfg.key_env) + ")")
        params = ",".join(f"{ch}.{self.cfg.symbols.to_provider(s)}" for s in symbols for ch in self.channels)
        await ws.send_str(json.dumps({"action": "subscribe", "params": params}))
        await self._expect(ws, {"success"}, "subscription acknowledgement")

    async def _expect(self, ws: aiohttp.ClientWebSocketResponse, wanted: set[str], what: str) -> str:
        try:
            msg = await ws.receive(timeout=10)
        except TimeoutError:
            raise ProviderError(f"polygon: no {what} within 10s") from None
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ProviderError(f"polygon: connection closed before the {what}")
        _, status, _ = parse_frame(msg.data, self.cfg.symbols, 0, None)
        for ev in status:
            if isinstance(ev.get("status"), str) and ev["status"] in wanted:
                return ev["status"]
        raise ProviderError(f"polygon: unexpected {what}: {msg.data[:200]}")

    async def backfill(self, symbol: str, since_ns: int) -> AsyncIterator[list[Record]]:
        ticker = self.cfg.symbols.to_provider(symbol)
        url = f"{self.rest_url}/v3/trades/{ticker}"
        params: dict[str, Any] | None = {"timestamp.gte": since_ns // MS * MS, "order": "asc", "sort": "timestamp",
                                         "limit": self.page_limit}
        while url:
            doc, body = await self.rest.get_json(url, params)
            batch, next_url = trades_page(doc, body, symbol, time.time_ns(), self.venue, self.rest_url)
            if batch:
                yield batch
            url, params = (next_url, None) if next_url else ("", None)

    async def close(self) -> None:
        await self.rest.close()
        if self._http is not None:
            await self._http.close()
            self._http = None


def create(cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> PolygonProvider:
    return PolygonProvider(cfg, metrics, secret)
