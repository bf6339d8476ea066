"""Alpha Vantage: intraday bars polled over REST (``TIME_SERIES_INTRADAY``), published as ``md.raw.bars``.

Alpha Vantage has no push feed: the provider asks ``/query`` for each symbol every ``poll_seconds`` and
yields the bars it has not yielded before. Everything comes back as HTTP 200 JSON, errors included, so the
body says what happened:

- ``"Time Series (1min)"`` → bars. Each becomes a ``RawBar`` (timeframe ``1m``; ``ts_start`` = the bar's
  US/Eastern wall time converted to ns UTC with the IANA rules, so EST/EDT are honoured; decimal text
  through ``decimal_text``; ``vwap``/``trade_count`` null, Alpha Vantage gives neither). A bar that is not
  numeric, or whose high/low do not contain its open and close, is ``Malformed`` with its own JSON, once
  (later answers repeating the same bad bar are not reported again).
- ``"Note"`` or ``"Information"`` about call frequency / rate limits → the quota is spent: the provider
  counts ``rate_limit_waits``, waits (``rate_limit_wait_s``, doubling up to ``rate_limit_max_wait_s``) and
  asks again. Nothing is raised: a spent quota is not an outage.
- ``"Error Message"`` (or ``"Information"``) about the ``apikey``, or the ``demo`` key → ``AuthError``.
- ``"Error Message": "Invalid API call ..."`` → the symbol is unknown to Alpha Vantage: one ``Malformed``
  for it, and it is not asked for again (``ProviderError`` once no symbol is left).
- Anything else (not JSON, a cut-off body, a JSON object of another shape) → one ``Malformed`` with the
  whole body; polling goes on.

HTTP 429/5xx/timeouts are retried by ``RestClient`` (Alpha Vantage does not send them itself, but proxies
and outages do); 401/403 become ``AuthError``.

Dedupe: a bar is yielded when its ``(symbol, ts_start)`` is new, and yielded **again** when a later poll
shows it with different values (Alpha Vantage revises the latest minute while it fills). The revision has
the same identity and a later ``ts_recv``; downstream treats md.raw.bars as an upsert by
``(source, symbol, timeframe, ts_start)``. Identical repeats (every poll returns up to 100 old bars) are
never yielded twice.

Bar times: Alpha Vantage labels a bar with its start ("09:30:00" is 09:30–09:31; the extended-hours day
ends with "19:59:00"). Responses recorded before that convention (the 2017 MSFT sample ends "16:00:00",
the close) label the end; ``bar_stamp: end`` shifts such stamps back by one interval.

Quota: the free key allows 5 requests per minute and 25 per day. ``rest_quota`` (the config's per-minute
token bucket, e.g. ``{requests: 5, seconds: 60}``) holds requests back before they are sent; the option
``daily_requests`` adds a second bucket for the daily quota. Each poll costs one request per symbol.

Finite runs (tests, demo): with ``until_complete: true`` the stream raises ``StreamEnded`` once
``stable_polls`` (default 2) consecutive successful poll rounds found nothing new for any symbol, i.e. the
(simulated) series stopped growing. Choose ``poll_seconds`` longer than the gap between two bars.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors import wire_json
from connectors.backoff import Backoff
from connectors.decimals import bounded_decimal, decimal_text, plain_text
from connectors.fields import INT64_MAX
from connectors.metrics import ConnectorMetrics
from connectors.provider import (
    AuthError,
    Malformed,
    Provider,
    ProviderError,
    Record,
    StreamEnded,
)
from connectors.provider_config import ProviderConfig
from connectors.rate_limit import TokenBucket
from connectors.raw_contract import RawBar
from connectors.rest import DEFAULT_MAX_BODY_BYTES, RestClient
from connectors.wire_json import dumps_or

log = logging.getLogger("tickflow.connectors.alphavantage")

NAME = "alphavantage"
DEFAULT_URL = "https://www.alphavantage.co/query"
FUNCTION = "TIME_SERIES_INTRADAY"
# Alpha Vantage interval → (raw contract timeframe, length in ns)
INTERVALS = {"1min": ("1m", 60), "5min": ("5m", 300), "15min": ("15m", 900), "30min": ("30m", 1800),
             "60min": ("1h", 3600)}
FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")
NS = 1_000_000_000
_FORGET_AFTER_NS = 86_400 * NS  # how far behind an answer's oldest bar the dedupe memory reaches
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VOLUME = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")  # raw_bar.schema.json's volume, unsigned
_ZONE_ALIASES = {"US/Eastern": "America/New_York", "US/Central": "America/Chicago", "US/Pacific": "America/Los_Angeles"}

_RATE_LIMIT = re.compile(r"rate limit|call frequency|calls per minute|requests per (day|minute)|sparingly", re.I)
_BAD_KEY = re.compile(r"apikey|api key|demo", re.I)


class ShapeError(ValueError):
    """The body is JSON but not an intraday response."""


class BarError(ValueError):
    """One bar cannot become a ``RawBar``."""


def zone_of(name: str | None) -> ZoneInfo:
    """The zone a response's "6. Time Zone" names (US/Eastern when absent or unknown)."""
    name = name or "US/Eastern"
    for candidate in (name, _ZONE_ALIASES.get(name)):
        if candidate and len(candidate) <= 64:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, not a zone
                continue
    return ZoneInfo("America/New_York")


def local_to_utc_ns(stamp: str, zone: ZoneInfo) -> int:
    """ns UTC of a wall time ``YYYY-MM-DD HH:MM:SS`` in ``zone``; BarError for malformed or non-existent times.

    A wall time the autumn change makes ambiguous is read as its first occurrence (Alpha Vantage's series
    is keyed by wall time, so it cannot hold both; US equities do not trade at 01:00–02:00 anyway).
    """
    try:
        naive = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        raise BarError(f"bad time {stamp!r}, expected YYYY-MM-DD HH:MM:SS") from None
    local = naive.replace(tzinfo=zone, fold=0)
    try:
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise BarError(f"{stamp} does not exist in {zone.key} (daylight-saving gap)")
    except OverflowError:  # years 1 and 9999 leave datetime's range in UTC
        raise BarError(f"{stamp} is outside the ns time range") from None
    ns = int((local - _EPOCH).total_seconds()) * NS
    if not 0 <= ns <= INT64_MAX:
        raise BarError(f"{stamp} is outside the ns time range")
    return ns


def volume_text(value: object) -> str:
    """Canonical text of a volume (up to 12 integer digits, as md.raw.bars allows)."""
    d = bounded_decimal(value, 12, 9)
    if d < 0:
        raise ValueError(f"volume {d} is negative")
    text = plain_text(d)
    if not _VOLUME.fullmatch(text):
        raise ValueError(f"{text} does not fit the volume column")
    return text


def _bar_bytes(stamp: str, fields: Any) -> bytes:
    return dumps_or({stamp: fields}, json.dumps({stamp: None}).encode())


def parse_bar(stamp: str, fields: Any, symbol: str, zone: ZoneInfo, timeframe: str, shift_ns: int,
              ts_recv: int, source: str = NAME) -> RawBar:
    """One entry of "Time Series (…)" → RawBar; BarError says what is wrong with it."""
    if not isinstance(fields, dict):
        raise BarError("bar is not an object")
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise BarError(f"bar lacks {', '.join(missing)}")
    try:
        o, h, l, c = (decimal_text(fields[f]) for f in FIELDS[:4])
        v = volume_text(fields[FIELDS[4]])
    except ValueError as exc:
        raise BarError(str(exc)) from None
    do, dh, dl, dc = Decimal(o), Decimal(h), Decimal(l), Decimal(c)
    if dh < dl:
        raise BarError(f"high {h} is below low {l}")
    if not (dl <= do <= dh and dl <= dc <= dh):
        raise BarError(f"open {o} / close {c} outside low {l} .. high {h}")
    ts_start = local_to_utc_ns(stamp, zone) - shift_ns
    return RawBar(source, symbol, timeframe, ts_start, o, h, l, c, v, ts_recv)


def parse_intraday(doc: Any, symbol: str, ts_recv: int, interval: str = "1min", bar_stamp: str = "start",
                   source: str = NAME) -> tuple[list[RawBar], list[Malformed]]:
    """A ``TIME_SERIES_INTRADAY`` response → (good bars oldest first, malformed bars).

    ``symbol`` is the tickflow name the bars are published under. Raises ShapeError when ``doc`` is not an
    intraday response of ``interval``.
    """
    if interval not in INTERVALS:
        raise ValueError(f"unsupported interval {interval!r}; one of {', '.join(INTERVALS)}")
    timeframe, seconds = INTERVALS[interval]
    if not isinstance(doc, dict):
        raise ShapeError("body is not a JSON object")
    meta = doc.get("Meta Data")
    series = doc.get(f"Time Series ({interval})")
    if not isinstance(meta, dict) or not isinstance(series, dict):
        raise ShapeError(f"body has no 'Meta Data' and 'Time Series ({interval})' objects "
                         f"(keys: {', '.join(list(doc)[:5]) or 'none'})")
    zone = zone_of(meta.get("6. Time Zone") if isinstance(meta.get("6. Time Zone"), str) else None)
    shift = seconds * NS if bar_stamp == "end" else 0
    bars: list[RawBar] = []
    bad: list[Malformed] = []
    for stamp, fields in series.items():
        try:
            bars.append(parse_bar(stamp, fields, symbol, zone, timeframe, shift, ts_recv, source))
        except BarError as exc:
            bad.append(Malformed(f"{source}: {symbol} bar {stamp[:40]}: {exc}", _bar_bytes(stamp, fields), symbol))
    bars.sort(key=lambda b: b.ts_start)
    return bars, bad


def classify(doc: dict[str, Any]) -> str:
    """What a JSON object without a series says: 'wait' (quota), 'unknown' (symbol), 'other' (a bad body);
    raises AuthError when it refuses the key."""
    error, note, info = doc.get("Error Message"), doc.get("Note"), doc.get("Information")
    if isinstance(error, str):
        if _BAD_KEY.search(error):
            raise AuthError(f"{NAME}: key refused: {error[:160]}")
        if "invalid api call" in error.lower():
            return "unknown"
        return "other"
    if isinstance(note, str):
        return "wait"
    if isinstance(info, str):
        if _RATE_LIMIT.search(info):
            return "wait"
        if _BAD_KEY.search(info) or "premium" in info.lower():
            raise AuthError(f"{NAME}: key not entitled: {info[:160]}")
    return "other"


@dataclass(frozen=True)
class Answer:
    """What one ``/query`` answer says. ``kind``: "bars" (``bars`` and malformed ``bad`` ones), "wait" (the
    quota is spent), "unknown" (the symbol is not known) or "bad" (not an answer); ``detail`` says why."""

    kind: str
    bars: list[RawBar] = field(default_factory=list)
    bad: list[Malformed] = field(default_factory=list)
    detail: str = ""


def read_answer(body: bytes, symbol: str, theirs: str, ts_recv: int, interval: str = "1min",
                bar_stamp: str = "start") -> Answer:
    """One answer's body for ``symbol`` (asked as ``theirs``); raises AuthError when the key is refused."""
    try:
        doc = wire_json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        return Answer("bad", detail=f"not JSON ({exc})")
    if isinstance(doc, dict) and not any(k.startswith("Time Series") for k in doc):
        verdict = classify(doc)
        if verdict in ("wait", "unknown"):
            return Answer(verdict, detail=_message(doc))
    try:
        if isinstance(doc, dict) and isinstance(doc.get("Meta Data"), dict):
            echoed = doc["Meta Data"].get("2. Symbol")
            if isinstance(echoed, str) and echoed.upper() != theirs.upper():
                raise ShapeError(f"answer is for {echoed!r}, asked for {theirs!r}")
        bars, bad = parse_intraday(doc, symbol, ts_recv, interval, bar_stamp)
    except ShapeError as exc:
        return Answer("bad", detail=str(exc))
    return Answer("bars", bars, bad)


class _Limits:
    """Both quotas in front of one ``RestClient``: each request takes a token from every bucket."""

    def __init__(self, *buckets: TokenBucket | None) -> None:
        self.buckets = [b for b in buckets if b is not None]

    async def acquire(self) -> float:
        waited = 0.0
        for bucket in self.buckets:
            waited += await bucket.acquire()
        return waited


@dataclass
class _Poll:
    records: list[Record]
    ok: bool           # a series was parsed (the poll counts for "until_complete")
    changed: bool      # something new or revised was yielded
    drop: bool = False  # the symbol is unknown: stop asking


class AlphaVantageProvider(Provider):
    """Polls ``TIME_SERIES_INTRADAY`` for each symbol; see the module docstring for the rules."""

    name = NAME
    can_backfill = False

    def __init__(self, cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None,
                 rest: RestClient | None = None) -> None:
        o = cfg.options
        self.cfg = cfg
        self.metrics = metrics
        self.secret = secret
        self.base_url = str(o.get("base_url", DEFAULT_URL))
        self.poll_seconds = float(o.get("poll_seconds", 60))
        self.interval = str(o.get("interval", "1min"))
        if self.interval not in INTERVALS:
            raise ValueError(f"{NAME}: interval {self.interval!r} not one of {', '.join(INTERVALS)}")
        self.outputsize = str(o.get("outputsize", "compact"))
        self.bar_stamp = str(o.get("bar_stamp", "start"))
        if self.bar_stamp not in ("start", "end"):
            raise ValueError(f"{NAME}: bar_stamp must be 'start' or 'end'")
        self.until_complete = bool(o.get("until_complete", False))
        self.stable_polls = int(o.get("stable_polls", 2))
        self.wait_base = float(o.get("rate_limit_wait_s", 60))
        self.wait_cap = float(o.get("rate_limit_max_wait_s", 900))
        daily = o.get("daily_requests")
        limits = _Limits(cfg.limiter(), TokenBucket.per_period(int(daily), 86400) if daily else None)
        self.rest = rest or RestClient(NAME, metrics, limiter=limits if limits.buckets else None,  # type: ignore[arg-type]
                                       retries=int(o.get("retries", 6)),
                                       backoff=Backoff(base=float(o.get("retry_base_s", 0.5)),
                                                       cap=float(o.get("retry_cap_s", 30))),
                                       timeout_s=float(o.get("timeout_s", 30)),
                                       max_body_bytes=int(o.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)))
        # (symbol, ts_start) → (open, high, low, close, volume) last yielded
        self._seen: dict[tuple[str, int], tuple[str, str, str, str, str]] = {}
        self._bad_seen: set[tuple[str, bytes]] = set()
        self._wait = self.wait_base

    async def stream(self, symbols: list[str]) -> AsyncGenerator[list[Record], None]:
        if not self.secret:
            raise AuthError(f"{NAME}: no API key (set the environment variable named by key_env)")
        active = list(dict.fromkeys(symbols))
        stable = 0
        announced = False  # the service counts the feed as connected at its first batch, empty or not
        while True:
            started = time.monotonic()
            all_ok, any_change = True, False
            for symbol in list(active):
                poll = await self._poll(symbol)
                if poll.records:
                    announced = True
                    yield poll.records
                if poll.drop:
                    active.remove(symbol)
                all_ok &= poll.ok
                any_change |= poll.changed
            if not announced and all_ok:
                announced = True
                yield []
            if not active:
                raise ProviderError(f"{NAME}: none of the symbols {', '.join(symbols)} is known to Alpha Vantage")
            if self.until_complete:
                if any_change:
                    stable = 0
                elif all_ok:
                    stable += 1
                if stable >= self.stable_polls:
                    raise StreamEnded(f"{NAME}: no new bars in {stable} polls")
            pause = started + self.poll_seconds - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)

    async def _poll(self, symbol: str) -> _Poll:
        """One successful answer for ``symbol`` (rate-limit answers are waited out and asked again)."""
        theirs = self.cfg.symbols.to_provider(symbol)
        params = {"function": FUNCTION, "symbol": theirs, "interval": self.interval,
                  "outputsize": self.outputsize, "apikey": self.secret}
        while True:
            body = await self.rest.get(self.base_url, params)
            answer = read_answer(body, symbol, theirs, time.time_ns(), self.interval, self.bar_stamp)
            if answer.kind == "wait":
                await self._wait_out_limit(answer.detail)
                continue
            self._wait = self.wait_base
            if answer.kind == "unknown":
                detail = f"{NAME}: {symbol} ({theirs}) is unknown to Alpha Vantage: {answer.detail}"
                log.error("%s; not polling it again", detail)
                return _Poll([Malformed(detail, body, symbol)], ok=False, changed=False, drop=True)
            if answer.kind == "bad":
                return self._bad_body(symbol, body, answer.detail)
            fresh = self._fresh(symbol, answer.bars)
            bad = [m for m in answer.bad if self._first_report(m)]
            return _Poll([*fresh, *bad], ok=True, changed=bool(fresh))

    async def _wait_out_limit(self, message: str) -> None:
        pause = self._wait
        self._wait = min(self.wait_cap, self._wait * 2)
        self.metrics.rate_limit_waits.labels(NAME).inc()
        self.metrics.rate_limit_wait_seconds.labels(NAME).inc(pause)
        log.warning("%s: rate limited (%s); asking again in %.1fs", NAME, message[:120], pause)
        await asyncio.sleep(pause)

    def _bad_body(self, symbol: str, body: bytes, why: str) -> _Poll:
        log.warning("%s: unusable answer for %s: %s", NAME, symbol, why)
        return _Poll([Malformed(f"{NAME}: {symbol}: {why}", body, symbol)], ok=False, changed=False)

    def _fresh(self, symbol: str, bars: list[RawBar]) -> list[RawBar]:
        """Bars not yielded before, or yielded with other values; forgets bars older than this answer."""
        out: list[RawBar] = []
        for bar in bars:
            key = (symbol, bar.ts_start)
            values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
            before = self._seen.get(key)
            if before == values:
                continue
            if before is not None:
                log.info("%s: %s bar at %d revised", NAME, symbol, bar.ts_start)
            self._seen[key] = values
            out.append(bar)
        if bars:  # bars a day older than this answer's window will not be shown again
            horizon = bars[0].ts_start - _FORGET_AFTER_NS
            for key in [k for k in self._seen if k[0] == symbol and k[1] < horizon]:
                del self._seen[key]
        return out

    def _first_report(self, bad: Malformed) -> bool:
        """True the first time a malformed bar is seen: every answer repeats it, md.dlq needs it once."""
        key = (bad.symbol, bad.original)
        if key in self._bad_seen:
            return False
        if len(self._bad_seen) >= 10_000:
            self._bad_seen.clear()
        self._bad_seen.add(key)
        return True

    async def close(self) -> None:
        await self.rest.close()


def _message(doc: dict[str, Any]) -> str:
    for k in ("Error Message", "Note", "Information"):
        if isinstance(doc.get(k), str):
            return doc[k][:500]
    return dumps_or(doc, b"")[:200].decode("utf-8", "replace")


def create(cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> Provider:
    return AlphaVantageProvider(cfg, metrics, secret)
