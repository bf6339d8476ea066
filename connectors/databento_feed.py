"""Databento: the live gateway's Raw API over TCP (trades, mbp-1, ohlcv-1m), or recorded DBN files.

Live protocol (as Databento's gateway speaks it; see docs/providers/databento.md): the gateway greets with
``lsg_version=…`` and ``cram=<challenge>`` lines; the client answers ``auth=<sha256("{cram}|{key}")>-<key[-5:]>
|dataset=…|encoding=dbn|ts_out=0|heartbeat_interval_s=…``; the gateway replies ``success=1|session_id=…``
or ``success=0|error=…``. The client sends one ``schema=…|stype_in=raw_symbol|symbols=…[|start=<ns>]`` line
per schema and ``start_session=0``; the gateway then streams DBN: metadata, ``SymbolMappingMsg`` records
(instrument id → symbol), data records, ``SystemMsg`` heartbeats and replay markers, ``ErrorMsg``.

Identity: a record's ``sequence`` is the venue's packet sequence number, so the trades (and book updates)
of one CME packet share it *and* their ts_event. ``k`` counts the records of that instrument and schema
already seen with the same sequence (0 for the first); ``seq = sequence * 1000 + k`` (unique and increasing
per symbol, as the raw contract and the storage key ``(symbol, source, seq, time)`` need) and ``trade_id =
"<instrument_id>:<sequence>:<k>"``. Live and replayed (``start=``) records get the same values. Records
without a sequence (0) get ``seq = k`` in arrival order and no trade_id.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import databento_dbn as dbn

from connectors.dbn_records import (
    BAR_TIMEFRAMES,
    DEFAULT_DATASET,
    START_SESSION,
    BadFrame,
    DbnFrameDecoder,
    FramingError,
    Item,
    Skipped,
    auth_line,
    iter_dbn_file,
    parse_control,
    subscription_line,
)
from connectors.decimals import decimal_text, fixed_price_text
from connectors.fields import INT64_MAX, symbol_field
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
from connectors.raw_contract import RawBar, RawQuote, RawTrade
from connectors.replay import skip_row
from connectors.symbols import SymbolMap

log = logging.getLogger("tickflow.connectors.databento")
SOURCE = "databento"
SCHEMAS = ("trades", "mbp-1", "ohlcv-1m")
DEFAULT_VENUE = "XCME"
READ_SIZE = 1 << 16
LIVE_PORT = 13000  # every dataset's live gateway listens here
GREETING_LINES = 16  # control lines a gateway may send before its challenge (it sends two)
SEQ_SLOTS = 1000  # records of one instrument and schema that may share a packet sequence number
MAX_BAR_VOLUME = 10**12  # md.raw.bars' volume has at most 12 integer digits


# --- mapping: pure functions -------------------------------------------------------------------------

def _price(raw: int, what: str) -> str:
    if raw == dbn.UNDEF_PRICE:
        raise ValueError(f"{what} is undefined (UNDEF_PRICE)")
    return fixed_price_text(raw)


def _ts(raw: int, what: str) -> int:
    if raw == dbn.UNDEF_TIMESTAMP:
        raise ValueError(f"{what} is undefined (UNDEF_TIMESTAMP)")
    if raw > INT64_MAX:
        raise ValueError(f"{what} {raw} is beyond the BIGINT range")
    return raw


def _recv(rec: Any, ts_event: int) -> int:
    """``ts_recv``, or ``ts_event`` when the record has none."""
    return ts_event if rec.ts_recv == dbn.UNDEF_TIMESTAMP else _ts(rec.ts_recv, "ts_recv")


def seq_for(sequence: int, ordinal: int) -> int:
    """``sequence * 1000 + ordinal`` (``ordinal`` alone without a sequence); ValueError past 999 in one packet."""
    if not sequence:
        return ordinal
    if ordinal >= SEQ_SLOTS:
        raise ValueError(f"more than {SEQ_SLOTS} records of one instrument share sequence {sequence}")
    return sequence * SEQ_SLOTS + ordinal


def trade_id_for(rec: dbn.TradeMsg, ordinal: int) -> str | None:
    """``"<instrument_id>:<sequence>:<ordinal>"``; None when the publisher gives no sequence."""
    return f"{rec.instrument_id}:{rec.sequence}:{ordinal}" if rec.sequence else None


def trade_from_dbn(rec: dbn.TradeMsg, symbol: str, venue: str | None, ordinal: int = 0) -> RawTrade:
    """``ordinal``: how many trades of this instrument came before this one with the same sequence."""
    ts_event = _ts(rec.ts_event, "ts_event")
    ts_recv = _recv(rec, ts_event)
    return RawTrade(SOURCE, symbol, venue, ts_event, ts_recv, seq_for(rec.sequence, ordinal),
                    _price(rec.price, "price"), decimal_text(rec.size), trade_id_for(rec, ordinal))


def quote_from_dbn(rec: dbn.MBP1Msg, symbol: str, venue: str | None, ordinal: int = 0) -> RawQuote:
    level = rec.levels[0]
    ts_event = _ts(rec.ts_event, "ts_event")
    ts_recv = _recv(rec, ts_event)
    return RawQuote(SOURCE, symbol, venue, ts_event, ts_recv, seq_for(rec.sequence, ordinal),
                    _price(level.bid_px, "bid_px"), decimal_text(level.bid_sz), _price(level.ask_px, "ask_px"),
                    decimal_text(level.ask_sz))


def bar_from_dbn(rec: dbn.OHLCVMsg, symbol: str, recv_ns: int | None) -> RawBar:
    """``ts_start`` is the record's ts_event (the bar's open); ``recv_ns`` None → the bar's end (files)."""
    rtype = int(rec.rtype)
    if rtype not in BAR_TIMEFRAMES:
        raise ValueError(f"{rec.rtype.name} bars have no tickflow timeframe")
    ts_start = _ts(rec.ts_event, "ts_event")
    if recv_ns is None:
        interval = rec.rtype.interval()
        assert interval is not None  # every rtype of BAR_TIMEFRAMES is an OHLCV one, which has an interval
        recv_ns = _ts(ts_start + int(interval.total_seconds()) * 1_000_000_000, "the bar's end")
    if rec.volume >= MAX_BAR_VOLUME:
        raise ValueError(f"volume {rec.volume} does not fit md.raw.bars' 12 integer digits")
    return RawBar(SOURCE, symbol, BAR_TIMEFRAMES[rtype], ts_start, _price(rec.open, "open"), _price(rec.high, "high"),
                  _price(rec.low, "low"), _price(rec.close, "close"), str(rec.volume), recv_ns)


class Normalizer:
    """Turns decoded DBN items into canonical records, keeping the instrument map and trade ordinals.

    One per connection or file. ``on_event(kind, detail)`` hears what is not a record: ``unknown_message``
    (a record type tickflow does not use) and ``gateway_error`` (an ``ErrorMsg``).
    """

    def __init__(self, symbols: SymbolMap, venue: str | None,
                 on_event: Callable[[str, str], None] | None = None) -> None:
        self.symbols = symbols
        self.venue = venue
        self.on_event = on_event or (lambda kind, detail: None)
        self.instruments: dict[int, str] = {}
        self.metadata: dbn.Metadata | None = None
        self.replays_completed = 0
        self.errors: list[str] = []
        self._last: dict[tuple[str, int], tuple[int, int]] = {}  # (schema, instrument) -> (sequence, ordinal)

    def apply(self, raw: bytes, item: Item, recv_ns: int | None) -> Record | None:
        """The canonical record of one item, a ``Malformed``, or None (control records)."""
        try:
            return self._apply(raw, item, recv_ns)
        except dbn.DBNError as exc:  # a field the decoder cannot read (e.g. a symbol that is not UTF-8)
            return Malformed(f"databento: {type(item).__name__} record cannot be read: {exc}"[:300], raw)

    def _apply(self, raw: bytes, item: Item, recv_ns: int | None) -> Record | None:
        if isinstance(item, dbn.TradeMsg):
            ordinal = self._ordinal("trades", item)
            return self._map(raw, item, "trade", lambda s: trade_from_dbn(item, s, self.venue, ordinal))
        if isinstance(item, dbn.MBP1Msg):
            ordinal = self._ordinal("mbp-1", item)
            return self._map(raw, item, "mbp-1", lambda s: quote_from_dbn(item, s, self.venue, ordinal))
        if isinstance(item, dbn.OHLCVMsg):
            return self._map(raw, item, "ohlcv", lambda s: bar_from_dbn(item, s, recv_ns))
        if isinstance(item, dbn.SymbolMappingMsg):
            self._map_symbol(item.instrument_id, item.stype_in_symbol)
        elif isinstance(item, dbn.SystemMsg):
            if item.code == dbn.SystemCode.REPLAY_COMPLETED:
                self.replays_completed += 1
                log.debug("databento: %s", item.msg)
        elif isinstance(item, dbn.ErrorMsg):
            self.errors.append(item.err)
            self.on_event("gateway_error", item.err)
        elif isinstance(item, dbn.Metadata):
            self._load_metadata(item)
        elif isinstance(item, BadFrame):
            return Malformed(f"databento: {item.detail}", raw)
        elif isinstance(item, Skipped):
            self.on_event("unknown_message", item.name)
        else:
            self.on_event("unknown_message", type(item).__name__)
        return None

    def _map_symbol(self, instrument_id: int, raw_symbol: object) -> None:
        """Remember an instrument's tickflow symbol; a mapping to what cannot be a symbol is reported and
        forgotten (that instrument's records then go to md.dlq as of an unknown instrument)."""
        try:
            self.instruments[instrument_id] = symbol_field(raw_symbol, self.symbols)
        except ValueError as exc:
            self.instruments.pop(instrument_id, None)
            self.on_event("bad_symbol_mapping", f"instrument {instrument_id}: {exc}")

    def _ordinal(self, schema: str, rec: Any) -> int:
        """Records of this instrument and schema seen just before with the same sequence (counts every
        record, normalisable or not, so that a replay gives each the same ordinal)."""
        key = (schema, rec.instrument_id)
        previous = self._last.get(key)
        ordinal = previous[1] + 1 if previous and previous[0] == rec.sequence else 0
        self._last[key] = (rec.sequence, ordinal)
        return ordinal

    def _map(self, raw: bytes, rec: Any, kind: str, build: Callable[[str], Record]) -> Record:
        symbol = self.instruments.get(rec.instrument_id)
        if symbol is None:
            return Malformed(f"databento {kind} record for unknown instrument id {rec.instrument_id}", raw)
        try:
            return build(symbol)
        except (ValueError, TypeError, OverflowError, IndexError, dbn.DBNError) as exc:
            return Malformed(f"databento {kind} record cannot be normalised: {exc}"[:300], raw, symbol)

    def _load_metadata(self, meta: dbn.Metadata) -> None:
        """Historical files map symbols in the metadata (raw symbol → instrument id intervals)."""
        self.metadata = meta
        if meta.stype_out != dbn.SType.INSTRUMENT_ID:
            return
        for raw_symbol, intervals in meta.mappings.items():
            for interval in intervals:
                iid = interval.get("symbol") if isinstance(interval, dict) else None
                if isinstance(iid, str) and iid.isascii() and iid.isdigit() and len(iid) <= 10:
                    self._map_symbol(int(iid), raw_symbol)


# --- files -------------------------------------------------------------------------------------------

def read_dbn_file(path: Path | str, symbols: SymbolMap | None = None, venue: str | None = DEFAULT_VENUE,
                  wanted: set[str] | None = None) -> Iterator[list[Record]]:
    """Canonical records of a ``.dbn``/``.dbn.zst`` file in batches; ``wanted`` keeps those symbols only.

    ``Malformed`` records are always kept. Bars get ``ts_recv`` = their end (a file has no receive time).
    """
    return dbn_item_records(iter_dbn_file(path), symbols, venue, wanted)


def dbn_item_records(item_batches: Iterable[list[tuple[bytes, Item]]], symbols: SymbolMap | None = None,
                     venue: str | None = DEFAULT_VENUE, wanted: set[str] | None = None) -> Iterator[list[Record]]:
    """``read_dbn_file`` over batches of decoded DBN items (``dbn_records.iter_dbn_chunks``)."""
    norm = Normalizer(symbols or SymbolMap(SOURCE), venue)
    for items in item_batches:
        batch: list[Record] = []
        for raw, item in items:
            rec = norm.apply(raw, item, None)
            if rec is not None and (wanted is None or isinstance(rec, Malformed) or rec.symbol in wanted):
                batch.append(rec)
        if batch:
            yield batch


class DatabentoFiles(Provider):
    """Replays ``options["files"]`` in order, then raises ``StreamEnded``."""

    name = SOURCE
    can_backfill = False

    def __init__(self, cfg: ProviderConfig) -> None:
        self.cfg = cfg
        self.files = [Path(p) for p in cfg.options.get("files") or []]
        self.venue: str | None = cfg.options.get("venue", DEFAULT_VENUE)

    async def stream(self, symbols: list[str]) -> AsyncGenerator[list[Record], None]:
        wanted = set(symbols) or None
        for path in self.files:
            if not path.exists():
                raise ProviderError(f"databento: no such file {path}")
            for batch in read_dbn_file(path, self.cfg.symbols, self.venue, wanted):
                yield batch
                await asyncio.sleep(0)
        raise StreamEnded(f"databento: {len(self.files)} file(s) replayed")


# --- live gateway ------------------------------------------------------------------------------------

class GatewaySession:
    """One TCP session with a live gateway: handshake, subscriptions, then DBN items."""

    def __init__(self, host: str, port: int, key: str, dataset: str, heartbeat_interval_s: int | None,
                 idle_timeout_s: float, connect_timeout_s: float = 10.0) -> None:
        self.host, self.port, self.key, self.dataset = host, port, key, dataset
        self.heartbeat_interval_s = heartbeat_interval_s
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.session_id: str | None = None
        self.decoder = DbnFrameDecoder()
        self._broken = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self, subscriptions: list[bytes]) -> None:
        """Connect, authenticate, subscribe and start the session. AuthError / ProviderError on failure."""
        where = f"{self.host}:{self.port}"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                                    self.connect_timeout_s)
        except (TimeoutError, OSError) as exc:
            raise ProviderError(f"databento: cannot connect to {where}: {exc or 'timeout'}") from None
        self._reader, self._writer = reader, writer
        challenge = ""
        for _ in range(GREETING_LINES):
            challenge = (await self._control_line("greeting")).get("cram", "")
            if challenge:
                break
        else:
            raise ProviderError(f"databento: no cram challenge in the gateway's first {GREETING_LINES} lines")
        writer.write(auth_line(challenge, self.key, self.dataset, self.heartbeat_interval_s))
        reply = await self._control_line("authentication reply")
        if reply.get("success") != "1":
            raise AuthError(f"databento: authentication refused: {str(reply.get('error') or reply)[:200]}")
        self.session_id = reply.get("session_id")
        writer.writelines(subscriptions + [START_SESSION])
        await self._drain()

    async def _control_line(self, what: str) -> dict[str, str]:
        assert self._reader is not None
        try:
            line = await asyncio.wait_for(self._reader.readline(), self.connect_timeout_s)
        except TimeoutError:
            raise ProviderError(f"databento: no {what} within {self.connect_timeout_s:.0f}s") from None
        except (OSError, ValueError) as exc:
            raise ProviderError(f"databento: connection lost before the {what}: {exc}") from None
        if not line.endswith(b"\n"):
            raise ProviderError(f"databento: connection closed before the {what}")
        return parse_control(line)

    async def _drain(self) -> None:
        assert self._writer is not None
        try:
            await self._writer.drain()
        except OSError as exc:
            raise ProviderError(f"databento: connection lost: {exc}") from None

    async def read(self, errors: list[str]) -> list[tuple[bytes, Item]]:
        """The next items; ProviderError on a lost, silent (``idle_timeout_s``) or corrupt stream.

        DBN has no resync marker: after a corrupt record length the records framed before it are still
        returned, and the next read raises (the service reconnects and backfills with ``start=``).
        """
        assert self._reader is not None
        if self._broken:
            raise ProviderError(self._broken)
        try:
            data = await asyncio.wait_for(self._reader.read(READ_SIZE), self.idle_timeout_s)
        except TimeoutError:
            raise ProviderError(f"databento: no data for {self.idle_timeout_s:g}s") from None
        except OSError as exc:
            raise ProviderError(f"databento: connection lost: {exc}") from None
        if not data:
            why = f" (gateway said: {'; '.join(errors[-3:])})" if errors else ""
            raise ProviderError(f"databento: connection closed by the gateway{why}")
        try:
            return self.decoder.feed(data)
        except FramingError as exc:
            self._broken = f"databento: stream corrupt: {exc}"
            if not exc.items:
                raise ProviderError(self._broken) from None
            return exc.items

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 2)
            self._writer = None


class DatabentoLive(Provider):
    """The live gateway at ``options["gateway"]``; backfill is the gateway's intraday replay (``start=``)."""

    name = SOURCE
    can_backfill = True

    def __init__(self, cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.key = secret or ""
        self.dataset: str = cfg.options.get("dataset", DEFAULT_DATASET)
        host, _, port = gateway_for(str(cfg.options["gateway"]), self.dataset).rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"databento: gateway must be 'host:port', got {cfg.options['gateway']!r}")
        self.host, self.port = host, int(port)
        self.schemas: list[str] = list(cfg.options.get("schemas") or SCHEMAS)
        unknown = set(self.schemas) - set(SCHEMAS)
        if unknown:
            raise ValueError(f"databento: unsupported schemas {sorted(unknown)}; supported: {', '.join(SCHEMAS)}")
        self.venue: str | None = cfg.options.get("venue", DEFAULT_VENUE)
        self.idle_timeout_s = float(cfg.options.get("idle_timeout_s", 15))
        hb = cfg.options.get("heartbeat_interval_s")
        # the gateway's default heartbeat (30 s) is longer than the idle timeout: ask for one well inside it
        self.heartbeat_interval_s = int(hb) if hb is not None else max(5, min(1800, int(self.idle_timeout_s // 3)))
        self._logged: set[tuple[str, str]] = set()

    def _session(self) -> GatewaySession:
        return GatewaySession(self.host, self.port, self.key, self.dataset, self.heartbeat_interval_s,
                              self.idle_timeout_s)

    def _normalizer(self) -> Normalizer:
        return Normalizer(self.cfg.symbols, self.venue, self._on_event)

    def _on_event(self, kind: str, detail: str) -> None:
        self.metrics.errors.labels(SOURCE, kind).inc()
        if (kind, detail) not in self._logged:
            self._logged.add((kind, detail))
            log.warning("databento: %s: %s", kind.replace("_", " "), detail)

    async def stream(self, symbols: list[str]) -> AsyncGenerator[list[Record], None]:
        tickers = [self.cfg.symbols.to_provider(s) for s in symbols]
        session = self._session()
        norm = self._normalizer()
        try:
            await session.open([subscription_line(schema, tickers) for schema in self.schemas])
            subscribed = False
            while True:
                items = await session.read(norm.errors)
                recv = time.time_ns()
                batch = [r for r in (norm.apply(raw, item, recv) for raw, item in items) if r is not None]
                if not subscribed and norm.metadata is not None:
                    subscribed = True
                    yield []  # the session has started: the service may backfill now
                if batch:
                    yield batch
        finally:
            await session.close()

    async def backfill(self, symbol: str, since_ns: int) -> AsyncIterator[list[Record]]:
        """Trades of ``symbol`` with ts_event >= ``since_ns`` by intraday replay, until the gateway's
        ``REPLAY_COMPLETED`` system message (the replay caught up with real time)."""
        session = self._session()
        norm = self._normalizer()
        try:
            await session.open([subscription_line("trades", [self.cfg.symbols.to_provider(symbol)], since_ns)])
            while not norm.replays_completed:
                items = await session.read(norm.errors)
                batch: list[Record] = []
                for raw, item in items:
                    rec = norm.apply(raw, item, None)
                    if norm.errors:
                        raise ProviderError(f"databento: replay refused: {norm.errors[-1]}")
                    if norm.replays_completed:
                        break
                    if isinstance(rec, (RawTrade, Malformed)):
                        batch.append(rec)
                if batch:
                    yield batch
        finally:
            await session.close()


def gateway_for(gateway: str, dataset: str) -> str:
    """``host:port`` of the live gateway: as configured, or for ``auto`` the dataset's own
    (``GLBX.MDP3`` → ``glbx-mdp3.lsg.databento.com:13000``)."""
    if gateway != "auto":
        return gateway
    return f"{dataset.lower().replace('.', '-')}.lsg.databento.com:{LIVE_PORT}"


def create(cfg: ProviderConfig, metrics: ConnectorMetrics, secret: str | None) -> Provider:
    """The live gateway provider when ``options["gateway"]`` is set, else the DBN files provider."""
    if cfg.options.get("gateway"):
        return DatabentoLive(cfg, metrics, secret)
    if not cfg.options.get("files"):
        raise ValueError("databento: set options 'gateway' (host:port) or 'files' (.dbn paths)")
    return DatabentoFiles(cfg)


def read_dbn_trades(path: Path, meta, result, on_skip) -> Iterator[tuple[int, bytes, bytes]]:
    """The replay's reader of DBN files (``tickflow replay --file x.dbn``): trades only, as raw-trade JSON.

    Records that do not normalise are skipped and reported with their position in the file; quotes and
    bars in the file are not trades and are passed over.
    """
    return dbn_trades(read_dbn_file(path, SymbolMap(SOURCE), meta.venue), result, on_skip)


def dbn_trades(batches: Iterable[list[Record]], result, on_skip) -> Iterator[tuple[int, bytes, bytes]]:
    """``read_dbn_trades`` over batches of normalised records (``dbn_item_records``)."""

    n = 0
    for batch in batches:
        for rec in batch:
            n += 1
            if isinstance(rec, Malformed):
                skip_row(result, on_skip, n, rec.detail)
            elif isinstance(rec, RawTrade):
                yield rec.ts_event, rec.symbol.encode(), rec.to_json()
