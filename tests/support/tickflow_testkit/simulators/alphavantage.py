"""Alpha Vantage's ``/query`` endpoint on loopback: ``TIME_SERIES_INTRADAY`` at 1min, in Alpha Vantage's format.

Two kinds of series are served:

- recorded responses (the MSFT answer in the ``alphavantage`` npm package, ``alphavantage_data``), served as
  recorded: the same bars, the same "Meta Data";
- bars built from recorded trades (``Market``, the ES sample) for one symbol, released as their minute
  completes: a minute's bar appears once a trade of a later minute has happened (or the market is done), so
  a client polling the endpoint sees new bars appear, as it does against the real service.

What the real service does and the simulator copies: every answer is HTTP 200 JSON, errors included. A
missing or unknown ``apikey`` gets ``{"Error Message": "the parameter apikey is invalid or missing. ..."}``;
an unknown symbol, function or interval gets ``{"Error Message": "Invalid API call. ..."}``; a request over
the quota gets ``{"Information": "... standard API rate limit is 25 requests per day ..."}`` (since 2024) or,
with ``limit_style="note"``, the older ``{"Note": "... API call frequency is 5 calls per minute ..."}``.
Alpha Vantage never answers 429; ``faults.http_429`` / ``faults.http_500`` produce real HTTP errors anyway
(a proxy or an outage in front of it). Numbers are strings with four decimals, times are US/Eastern wall
times ("YYYY-MM-DD HH:MM:SS", the bar's start), newest first; ``outputsize=compact`` is the latest 100 bars.

Not simulated: intervals other than 1min, ``datatype=csv``, ``adjusted``/``extended_hours``/``month``
(accepted and ignored), the ``demo`` key's restrictions, functions other than ``TIME_SERIES_INTRADAY``.
"""
from __future__ import annotations

import asyncio
import bisect
import collections
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from connectors.es_sample import Trade
from tickflow_testkit.simulators.alphavantage_data import intraday_sample
from tickflow_testkit.simulators.market import Market
from tickflow_testkit.simulators.server import SimulatorServer

log = logging.getLogger("tickflow.simulators.alphavantage")

FUNCTION = "TIME_SERIES_INTRADAY"
INTERVAL = "1min"
SERIES_KEY = f"Time Series ({INTERVAL})"
EASTERN = ZoneInfo("America/New_York")
COMPACT = 100
NS_PER_MIN = 60_000_000_000
FOUR = Decimal("0.0001")

BAD_KEY = ("the parameter apikey is invalid or missing. Please claim your free API key on "
           "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.")
INVALID_CALL = ("Invalid API call. Please retry or visit the documentation "
                "(https://www.alphavantage.co/documentation/) for TIME_SERIES_INTRADAY.")
LIMIT_INFORMATION = ("Thank you for using Alpha Vantage! Our standard API rate limit is {per_day} requests per day. "
                     "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to "
                     "instantly remove all daily rate limits.")
LIMIT_NOTE = ("Thank you for using Alpha Vantage! Our standard API call frequency is {per_minute} calls per minute "
              "and {per_day} calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to "
              "target a higher API call frequency.")


def eastern_stamp(ts_ns: int) -> str:
    """US/Eastern wall time of a UTC instant, as Alpha Vantage writes it."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).astimezone(EASTERN).strftime(
        "%Y-%m-%d %H:%M:%S")


def _four(d: Decimal) -> str:
    return str(d.quantize(FOUR))


def _volume(v: Decimal) -> str:
    return str(int(v)) if v == v.to_integral_value() else format(v.normalize(), "f")


@dataclass(frozen=True)
class _TradeBar:
    start_ns: int
    first_index: int
    fields: dict[str, str]


def bars_from_trades(trades: list[Trade]) -> list[_TradeBar]:
    """One Alpha Vantage 1min bar per minute that has trades, oldest first (prices to four decimals)."""
    out: list[_TradeBar] = []
    numbers: dict[str, Decimal] = {}  # prices and sizes repeat: parse each text once

    def num(text: str) -> Decimal:
        d = numbers.get(text)
        if d is None:
            d = numbers[text] = Decimal(text)
        return d

    i = 0
    while i < len(trades):
        minute = trades[i].ts_ns // NS_PER_MIN
        o = h = l = c = num(trades[i].price)
        vol = Decimal(0)
        j = i
        while j < len(trades) and trades[j].ts_ns // NS_PER_MIN == minute:
            p = num(trades[j].price)
            if p > h:
                h = p
            elif p < l:
                l = p
            c = p
            vol += num(trades[j].size)
            j += 1
        out.append(_TradeBar(minute * NS_PER_MIN, i, {
            "1. open": _four(o), "2. high": _four(h), "3. low": _four(l), "4. close": _four(c),
            "5. volume": _volume(vol)}))
        i = j
    return out


class _RecordedSeries:
    """A recorded response's bars (stamp → fields) and its "Meta Data"; tests may add or change bars."""

    def __init__(self, doc: dict[str, Any]) -> None:
        meta = doc.get("Meta Data")
        series = doc.get(SERIES_KEY)
        if not isinstance(meta, dict) or not isinstance(series, dict):
            raise ValueError(f"not a recorded {FUNCTION} {INTERVAL} response (needs 'Meta Data' and '{SERIES_KEY}')")
        self.meta = dict(meta)
        self.bars: dict[str, dict[str, str]] = {k: dict(v) for k, v in series.items()}

    @property
    def symbol(self) -> str:
        return str(self.meta.get("2. Symbol", ""))


def _default_recorded() -> list[dict[str, Any]]:
    try:
        return [intraday_sample()]
    except RuntimeError as exc:
        log.warning("Alpha Vantage simulator without the recorded MSFT response: %s", exc)
        return []


class AlphaVantageServer(SimulatorServer):
    """Serves ``GET /query`` for bars of ``market`` under ``symbol`` and for the recorded responses.

    ``recorded``: parsed ``TIME_SERIES_INTRADAY`` responses, each served under its "2. Symbol"; ``None``
    (the default) serves the recorded MSFT sample (``alphavantage_data.intraday_sample``, fetched once with
    npm and cached; if it cannot be had the simulator logs why and serves the market only). ``api_key``: the
    key accepted (``None`` accepts any non-empty key, as Alpha Vantage in practice does for made-up keys).
    ``per_minute`` / ``per_day``: the quota per key (``None``: unlimited); past it a request gets the
    rate-limit body. ``rate_limit_next``: answer the next n requests with it regardless (set by tests while
    running, like ``faults``).
    """

    def __init__(self, market: Market | None = None, symbol: str = "ES", api_key: str | None = "test-key",
                 recorded: Iterable[dict[str, Any]] | None = None, per_minute: int | None = None,
                 per_day: int | None = None, limit_style: str = "information", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        super().__init__(host, port)
        if limit_style not in ("information", "note"):
            raise ValueError("limit_style must be 'information' or 'note'")
        if recorded is None:
            recorded = _default_recorded()
        self._lock = threading.Lock()
        self.recorded: dict[str, _RecordedSeries] = {}
        for doc in recorded:
            series = _RecordedSeries(doc)
            self.recorded[series.symbol.upper()] = series
        self.market = market
        self.market_symbol = symbol
        self.market_bars = bars_from_trades(market.trades) if market is not None else []
        # bar k is complete once trade market_bars[k + 1].first_index has happened
        self._next_first = [b.first_index for b in self.market_bars[1:]]
        self._stamps: dict[int, str] = {}
        self.api_key = api_key
        self.per_minute = per_minute
        self.per_day = per_day
        self.limit_style = limit_style
        self.rate_limit_next = 0
        self._calls: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._calls_today: dict[str, int] = collections.Counter()
        # what happened, for tests
        self.requests = 0
        self.served = 0
        self.rate_limited = 0
        self.garbage_sent = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The ``/query`` URL (the provider's ``base_url``)."""
        return f"http://{self.host}:{self.port}/query"

    def client_options(self) -> dict[str, str]:
        """The provider-config options that point a connector at this simulator."""
        return {"base_url": self.url}

    # --- data -----------------------------------------------------------------------------------------
    def put_bar(self, symbol: str, stamp: str, fields: dict[str, str]) -> None:
        """Add or replace one bar of a recorded series (a revision, or a malformed bar), thread-safe."""
        with self._lock:
            self.recorded[symbol.upper()].bars[stamp] = dict(fields)

    def completed_market_bars(self) -> int:
        """How many of the market's bars have completed by now."""
        if self.market is None:
            return 0
        happened = self.market.happened()
        if happened >= len(self.market.trades):
            return len(self.market_bars)
        return bisect.bisect_left(self._next_first, happened)

    def _market_series(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for bar in self.market_bars[:self.completed_market_bars()]:
            stamp = self._stamps.get(bar.start_ns)
            if stamp is None:
                stamp = self._stamps[bar.start_ns] = eastern_stamp(bar.start_ns)
            out[stamp] = bar.fields
        return out

    def series(self, symbol: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]] | None:
        """(meta, every bar available now) for a symbol, or None when the symbol is unknown."""
        key = symbol.upper()
        with self._lock:
            rec = self.recorded.get(key)
            if rec is not None:
                return dict(rec.meta), dict(rec.bars)
        if self.market is not None and key == self.market_symbol.upper():
            bars = self._market_series()
            meta = {"1. Information": "Intraday (1min) open, high, low, close prices and volume",
                    "2. Symbol": self.market_symbol, "3. Last Refreshed": max(bars) if bars else "",
                    "4. Interval": INTERVAL, "5. Output Size": "Compact", "6. Time Zone": "US/Eastern"}
            return meta, bars
        return None

    # --- server ---------------------------------------------------------------------------------------
    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/query", self._query)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _drop(self) -> None:
        if self._runner is not None and self._runner.server is not None:
            for proto in list(self._runner.server.connections):
                if proto.transport is not None:
                    proto.transport.abort()

    def _over_quota(self, key: str) -> bool:
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return True
        now = time.monotonic()
        calls = self._calls[key]
        while calls and calls[0] <= now - 60:
            calls.popleft()
        if self.per_minute is not None and len(calls) >= self.per_minute:
            return True
        if self.per_day is not None and self._calls_today[key] >= self.per_day:
            return True
        calls.append(now)
        self._calls_today[key] += 1
        return False

    def _limit_body(self) -> dict[str, str]:
        per_minute, per_day = self.per_minute or 5, self.per_day or 25
        if self.limit_style == "note":
            return {"Note": LIMIT_NOTE.format(per_minute=per_minute, per_day=per_day)}
        return {"Information": LIMIT_INFORMATION.format(per_day=per_day)}

    @staticmethod
    def _json(doc: dict[str, Any]) -> web.Response:
        return web.Response(text=json.dumps(doc, indent=4), content_type="application/json")

    async def _query(self, request: web.Request) -> web.Response:
        self.requests += 1
        status = self.faults.take_http_error()
        if status == 429:
            return web.Response(status=429, text="Too Many Requests")
        if status:
            return web.Response(status=status, text="Internal Server Error")
        if self.faults.stalled:
            while self.faults.stalled:
                await asyncio.sleep(0.05)
        q = request.query
        key = q.get("apikey", "")
        if self.faults.refuse_auth or not key or (self.api_key is not None and key != self.api_key):
            return self._json({"Error Message": BAD_KEY})
        if self._over_quota(key):
            self.rate_limited += 1
            return self._json(self._limit_body())
        found = self.series(q.get("symbol", "")) if q.get("function") == FUNCTION else None
        if found is None or q.get("interval") != INTERVAL or q.get("datatype", "json") != "json":
            return self._json({"Error Message": INVALID_CALL})
        meta, bars = found
        full = q.get("outputsize", "compact") == "full"
        stamps = sorted(bars, reverse=True)
        if not full:
            stamps = stamps[:COMPACT]
        meta["5. Output Size"] = "Full size" if full else "Compact"
        if stamps:
            meta["3. Last Refreshed"] = stamps[0]
        self.served += 1
        text = json.dumps({"Meta Data": meta, SERIES_KEY: {s: bars[s] for s in stamps}}, indent=4)
        if self.faults.garbage_every and self.served % self.faults.garbage_every == 0:
            self.garbage_sent += 1
            text = text[:len(text) // 2]  # a body cut off in the middle
        return web.Response(text=text, content_type="application/json")
