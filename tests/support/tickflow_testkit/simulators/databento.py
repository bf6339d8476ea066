"""A Databento live gateway (Raw API over TCP) serving a simulated ``Market``, and DBN file helpers.

Per connection: ``lsg_version`` and ``cram`` lines; the client's ``auth=…`` line is checked against the
configured key (``faults.refuse_auth`` refuses every login with ``success=0|error=Authentication failed.``);
subscription lines are collected until ``start_session``. Then DBN: metadata, one ``SymbolMappingMsg``
per subscribed symbol the market trades, and for each trade that happens while connected a ``TradeMsg``
(schema ``trades``), an ``MBP1Msg`` built with ``quote_around`` (``mbp-1``) and, whenever a minute is
complete, its ``OHLCVMsg`` (``ohlcv-1m``, from all of the market's trades in that minute).

A subscription with ``start=<ns>`` first replays the happened trades with ts >= start (the earliest
start of the session's subscriptions), then sends ``SystemMsg`` REPLAY_COMPLETED per replayed schema and
goes live. Quiet periods get ``SystemMsg`` heartbeats every ``heartbeat_interval_s`` the client asked for.
``faults.garbage_every = n`` adds, after every n-th trade, a well-framed record of an unknown type;
``faults.stalled`` sends nothing at all (no heartbeats either).
"""
from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import databento_dbn as dbn

from connectors.dbn_records import DEFAULT_DATASET, cram_response, iter_dbn_file, parse_control
from connectors.decimals import fixed_price_text
from connectors.es_sample import Trade
from tickflow_testkit.dbn_writer import (
    instrument_id_for,
    mbp1_msg,
    metadata_bytes,
    ohlcv_1m_msg,
    symbol_mapping_msg,
    trade_msg,
    write_dbn_file,
)
from tickflow_testkit.simulators.market import Market, quote_around
from tickflow_testkit.simulators.server import SimulatorServer

__all__ = ["DatabentoGateway", "write_dbn_file", "read_dbn_trades", "minute_bars", "GARBAGE_RECORD"]

MINUTE_NS = 60_000_000_000
DEFAULT_KEY = "db-tickflow-simulator-key-000000"
#: 48 bytes framed as a record (length 12 words) of record type 0xEE, which DBN does not define
GARBAGE_RECORD = bytes([12, 0xEE]) + b"not a DBN record".ljust(46, b"\xff")
SCHEMAS = {"trades", "mbp-1", "ohlcv-1m"}
SEND_CHUNK = 2_000  # trades per write before yielding to the loop


@dataclass(frozen=True)
class MinuteBar:
    ts_start: int
    open: str
    high: str
    low: str
    close: str
    volume: int


def minute_bars(trades: list[Trade]) -> dict[int, MinuteBar]:
    """The 1-minute OHLCV of ``trades`` (in time order), by minute start in ns."""
    bars: dict[int, MinuteBar] = {}
    for minute, group in itertools.groupby(trades, key=lambda t: t.ts_ns // MINUTE_NS * MINUTE_NS):
        rows = list(group)
        prices = [Decimal(t.price) for t in rows]
        bars[minute] = MinuteBar(minute, rows[0].price, str(max(prices)), str(min(prices)), rows[-1].price,
                                 sum(int(t.size) for t in rows))
    return bars


@dataclass
class _Subscription:
    schema: str
    symbols: list[str]
    start: int | None


class DatabentoGateway(SimulatorServer):
    """Serves ``market`` (symbol ``symbol``) to clients that authenticate with ``api_key``."""

    def __init__(self, market: Market, api_key: str = DEFAULT_KEY, symbol: str = "ES",
                 dataset: str = DEFAULT_DATASET, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.market = market
        self.api_key = api_key
        self.symbol = symbol
        self.dataset = dataset
        self.instrument_id = instrument_id_for(symbol)
        self.bars = minute_bars(market.trades)
        self._times = [t.ts_ns for t in market.trades]
        self._server: asyncio.AbstractServer | None = None
        self._sessions: dict[asyncio.StreamWriter, asyncio.Task] = {}
        self._ids = itertools.count(1)
        self.logins = 0  # successful authentications (tests count reconnects with it)
        self.garbage_sent = 0  # records of an unknown type sent (faults.garbage_every)

    @property
    def gateway(self) -> str:
        """``host:port`` for the feed's ``gateway`` option."""
        return f"{self.host}:{self.port}"

    def client_options(self) -> dict[str, str]:
        """The provider-config options that point a connector at this simulator."""
        return {"gateway": self.gateway}

    # --- SimulatorServer hooks ------------------------------------------------------------------
    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _drop(self) -> None:
        for writer, task in list(self._sessions.items()):
            writer.transport.abort()
            task.cancel()
        self._sessions.clear()

    # --- one client -----------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions[writer] = task
        try:
            await self._session(reader, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._sessions.pop(writer, None)
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        challenge = secrets.token_hex(16)
        writer.write(f"lsg_version=0.0.0-tickflow-simulator\ncram={challenge}\n".encode())
        auth = parse_control(await asyncio.wait_for(reader.readline(), 30))
        error = self._auth_error(auth, challenge)
        if error:
            writer.write(f"success=0|error={error}\n".encode())
            await writer.drain()
            return
        self.logins += 1
        writer.write(f"success=1|session_id={next(self._ids)}\n".encode())
        subscriptions: list[_Subscription] = []
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                return
            fields = parse_control(line)
            if "start_session" in fields:
                break
            if "schema" in fields:
                start = fields.get("start")
                subscriptions.append(_Subscription(fields["schema"], fields.get("symbols", "").split(","),
                                                   int(start) if start else None))
        heartbeat = float(auth.get("heartbeat_interval_s") or 30)
        await self._stream(writer, subscriptions, heartbeat)

    def _auth_error(self, auth: dict[str, str], challenge: str) -> str:
        if self.faults.refuse_auth or auth.get("auth") != cram_response(challenge, self.api_key):
            return "Authentication failed."
        if auth.get("dataset") != self.dataset:
            return f"Unknown dataset {auth.get('dataset')!r}."
        if auth.get("encoding", "dbn") != "dbn":
            return "This gateway simulates encoding=dbn only."
        return ""

    async def _stream(self, writer: asyncio.StreamWriter, subs: list[_Subscription], heartbeat_s: float) -> None:
        ours = [s for s in subs if s.schema in SCHEMAS and (self.symbol in s.symbols or "ALL_SYMBOLS" in s.symbols)]
        schemas = {s.schema for s in ours}
        starts = [s.start for s in ours if s.start is not None]
        now_ns = time.time_ns()
        only = next(iter(schemas)) if len(schemas) == 1 else None
        symbols = sorted({sym for s in subs for sym in s.symbols})
        head = [metadata_bytes(self.dataset, symbols, min(starts, default=now_ns),
                               dbn.Schema.from_str(only) if only else None)]
        if ours:
            head.append(bytes(symbol_mapping_msg(self.symbol, self.instrument_id, now_ns)))
        for s in subs:
            if s.schema not in SCHEMAS:
                head.append(bytes(dbn.ErrorMsg(now_ns, f"Unsupported schema {s.schema!r} in this simulator")))
        # the live cursor is fixed before the client can see the metadata (its cue that the session started)
        cursor = self.market.happened()
        writer.write(b"".join(head))
        session = _Sender(self, schemas)
        if starts:
            lo = bisect.bisect_left(self._times, min(starts), 0, cursor)
            await session.send(writer, self.market.trades[lo:cursor])
            done = [bytes(dbn.SystemMsg(time.time_ns(), f"Finished {s.schema} replay", dbn.SystemCode.REPLAY_COMPLETED))
                    for s in ours if s.start is not None]
            writer.write(b"".join(done))
        last_sent = time.monotonic()
        while True:
            await writer.drain()
            if self.faults.stalled:
                await asyncio.sleep(0.01)
                continue
            happened = self.market.happened()
            if happened > cursor:
                await session.send(writer, self.market.trades[cursor:happened])
                cursor = happened
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= heartbeat_s:
                writer.write(bytes(dbn.SystemMsg(time.time_ns(), "Heartbeat", dbn.SystemCode.HEARTBEAT)))
                last_sent = time.monotonic()
            await asyncio.sleep(0.005)


class _Sender:
    """Encodes one session's records: per trade its schemas' records, bars as minutes complete."""

    def __init__(self, gateway: DatabentoGateway, schemas: set[str]) -> None:
        self.gateway = gateway
        self.schemas = schemas
        self.minute: int | None = None
        self.trades_sent = 0

    async def send(self, writer: asyncio.StreamWriter, trades: list[Trade]) -> None:
        for i in range(0, len(trades), SEND_CHUNK):
            writer.write(b"".join(self._encode(trades[i:i + SEND_CHUNK])))
            await writer.drain()

    def _encode(self, trades: list[Trade]) -> list[bytes]:
        g, out = self.gateway, []
        iid = g.instrument_id
        for t in trades:
            minute = t.ts_ns // MINUTE_NS * MINUTE_NS
            if self.minute is not None and minute > self.minute and "ohlcv-1m" in self.schemas:
                bar = g.bars[self.minute]
                out.append(bytes(ohlcv_1m_msg(bar.ts_start, bar.open, bar.high, bar.low, bar.close, bar.volume, iid)))
            self.minute = minute
            if "trades" in self.schemas:
                out.append(bytes(trade_msg(t, iid)))
            if "mbp-1" in self.schemas:
                out.append(bytes(mbp1_msg(t, quote_around(t), iid)))
            self.trades_sent += 1
            every = g.faults.garbage_every
            if every and self.trades_sent % every == 0:
                out.append(GARBAGE_RECORD)
                g.garbage_sent += 1
        return out


def read_dbn_trades(path: Path | str) -> list[Trade]:
    """The ``TradeMsg`` records of a DBN file as market trades (index = sequence - 1)."""
    out: list[Trade] = []
    for items in iter_dbn_file(path):
        for _, item in items:
            if isinstance(item, dbn.TradeMsg):
                out.append(Trade(item.sequence - 1, item.ts_event, fixed_price_text(item.price), str(item.size)))
    return out
