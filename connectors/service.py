"""The connector service: keeps a provider's feed flowing into the raw topics whatever the network does.

For each provider (the primary and an optional backup) a *link* runs a loop: connect and subscribe
(through a circuit breaker, with exponential backoff and jitter between attempts), join, then pass live
records on. *Joining* is the same after a reconnect and on a failover:

1. read the joining feed until its first live trade of each symbol arrives (``first_trade_wait_s`` at
   most); that instant is the cut, and live records from it on are held back;
2. make the feed the active one (an outgoing feed's records are ignored from now on);
3. backfill over the provider's REST API every trade from the last published position up to the cut;
4. release the held-back live records.

Every trade passes the ``TradeGate`` (position boundaries, see ``trade_gate.py``) and, where the provider
gives ids, a ``(source, trade_id)`` guard, so the topic holds each trade once.

Failover: when the primary's circuit opens (consecutive failed connects, or refused credentials) the
backup link starts and joins. The primary keeps probing (half-open circuit); when it connects again it
joins, becomes active, and the backup link is stopped.

Kafka's pace: before a batch is published the service waits (``Outlet.room``) while the producer holds
its limit of unacknowledged records, so a Kafka outage pauses the feed instead of losing records; the
event loop, and with it the health endpoint, keeps running. After a restart the gate starts from the
positions recovered from md.raw.trades (``position_recovery.py``), so the first join backfills the gap.

Probes: ``liveness`` (the event loop turns and the producer works), ``readiness`` (a feed is connected and
Kafka acknowledges deliveries), ``health`` (the detail of both).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from connectors.backoff import Backoff
from connectors.circuit_breaker import OPEN, CircuitBreaker
from connectors.metrics import ConnectorMetrics
from connectors.outlet import DeliveryFailed, Outlet
from connectors.provider import (
    AuthError,
    Malformed,
    Provider,
    ProviderError,
    Record,
    StreamEnded,
)
from connectors.raw_contract import RawQuote, RawTrade, position_seq
from connectors.trade_gate import Position, RecentIds, TradeGate

log = logging.getLogger("tickflow.connectors.service")
_DONE = object()
CHUNK = 1000   # records published between two checks of the producer's room
FEED_QUEUE = 100   # batches read ahead of the service; when it is full the pump stops reading the feed


@dataclass(frozen=True)
class ServiceOptions:
    failure_threshold: int = 3        # consecutive failed connects that open a provider's circuit
    reset_timeout_s: float = 10.0     # how long an open circuit waits before probing the provider again
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 10.0
    first_trade_wait_s: float = 2.0   # how long a joining feed is read for its first live trade
    id_horizon_s: float = 600.0       # event-time memory of (source, trade_id) keys
    stuck_after_s: float = 10.0       # a record unacknowledged this long: deliveries are stuck (not ready)
    wedged_after_s: float = 30.0      # the event loop has not turned for this long: not live
    shutdown_timeout_s: float = 20.0  # how long a stopping service waits for Kafka to take what it holds


async def cancel_and_wait(*tasks: asyncio.Task | None) -> None:
    """Cancel ``tasks`` and return once every one has ended.

    On Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that arrives just as the call it waits
    on completes (fixed in 3.12); the providers read their sockets through it. A task that outlives its
    cancellation is therefore cancelled again, every half second, instead of being waited for forever.
    If the caller is cancelled meanwhile, the tasks are still ended first, then the caller's cancellation
    goes on: no task is left behind."""
    pending = {t for t in tasks if t is not None}
    interrupted = False
    while pending:
        for task in pending:
            task.cancel()
        try:
            _, pending = await asyncio.wait(pending, timeout=0.5)
        except asyncio.CancelledError:
            interrupted = True
    for ended in tasks:
        if ended is not None and not ended.cancelled():
            ended.exception()  # retrieved: the loop's own handling of it is done
    if interrupted:
        raise asyncio.CancelledError


class Link:
    """One provider's connection loop and its state."""

    def __init__(self, provider: Provider, role: str, opts: ServiceOptions) -> None:
        self.provider = provider
        self.name = provider.name
        self.role = role
        self.breaker = CircuitBreaker(opts.failure_threshold, opts.reset_timeout_s)
        self.backoff = Backoff(opts.backoff_base_s, opts.backoff_cap_s)
        self.task: asyncio.Task | None = None
        self.connected = False
        self.sessions = 0
        self.ended = False
        self.last_error = ""
        self.last_record_at = 0.0

    def state(self) -> dict[str, Any]:
        return {"role": self.role, "connected": self.connected, "circuit": self.breaker.state,
                "sessions": self.sessions, "ended": self.ended, "last_error": self.last_error,
                "seconds_since_last_record":
                    round(time.time() - self.last_record_at, 3) if self.last_record_at else None}


class ConnectorService:
    def __init__(self, primary: Provider, symbols: list[str], outlet: Outlet, metrics: ConnectorMetrics,
                 backup: Provider | None = None, options: ServiceOptions | None = None,
                 positions: dict[str, Position] | None = None) -> None:
        if backup is not None and backup.name == primary.name:
            raise ValueError("the backup must be a different provider from the primary")
        self.symbols = symbols
        self.outlet = outlet
        self.metrics = metrics
        self.opts = options or ServiceOptions()
        self.primary = Link(primary, "primary", self.opts)
        self.backup = Link(backup, "backup", self.opts) if backup is not None else None
        self.gate = TradeGate()
        self.resume_from(positions or {})
        self.ids = RecentIds(int(self.opts.id_horizon_s * 1e9))
        self.active: str | None = None
        self.last_published_at = 0.0   # wall time of the latest record published (idle detection)
        self.stopping = asyncio.Event()
        self.failure: str | None = None      # why the service stopped on its own (the exit code says so)
        self.undelivered_at_exit = 0
        self._beat_at = time.monotonic()     # the event loop's last turn, as seen by ``_beat``
        self._logged: set[tuple[str, str]] = set()
        self._stopping_links: set[asyncio.Task] = set()   # a replaced backup link, until it has ended
        for link in self.links:
            metrics.active.labels(link.name).set(0)
            metrics.connected.labels(link.name).set(0)
            metrics.circuit_open.labels(link.name).set(0)

    def resume_from(self, positions: dict[str, Position]) -> None:
        """Start the gate from positions published before this process (recovered from the topic), so the
        first join backfills from them. Before ``run``."""
        self.gate.seed({s: p for s, p in positions.items() if s in self.symbols})

    @property
    def links(self) -> list[Link]:
        return [self.primary] + ([self.backup] if self.backup else [])

    # --- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until ``stop()``, until the primary is a finite source that has ended, or until the producer
        fails for good (``failure`` says why). Then wait up to ``shutdown_timeout_s`` for Kafka to take
        what the producer holds; ``undelivered_at_exit`` is what it did not."""
        self.primary.task = asyncio.create_task(self._link_loop(self.primary))
        stop = asyncio.create_task(self.stopping.wait())
        delivery = asyncio.create_task(self.outlet.serve())
        beat = asyncio.create_task(self._beat())
        try:
            await asyncio.wait({self.primary.task, stop, delivery}, return_when=asyncio.FIRST_COMPLETED)
            errors = [t.exception() for t in (delivery, self.primary.task) if t.done() and not t.cancelled()]
            exc = next((e for e in errors if e is not None), None)
            if exc is not None or delivery.done():  # the delivery task only ends on a failure
                self.failure = str(exc) if isinstance(exc, DeliveryFailed) else f"delivery reports stopped: {exc!r}"
                log.error("stopping: %s", self.failure)
        finally:
            stop.cancel()
            await cancel_and_wait(*(l.task for l in self.links))
            if self._stopping_links:  # a replaced backup link still ending
                await asyncio.wait(set(self._stopping_links))
            for link in self.links:
                await link.provider.close()
            self.undelivered_at_exit = await self.outlet.drain(self.opts.shutdown_timeout_s)
            await cancel_and_wait(delivery, beat)

    def stop(self) -> None:
        self.stopping.set()

    async def _beat(self) -> None:
        while True:
            self._beat_at = time.monotonic()
            await asyncio.sleep(0.25)

    # --- probes ---------------------------------------------------------------------------------
    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive unless the event loop has stalled or the producer has failed for good: a restart would
        help then, and only then (a provider or Kafka outage is waited out, not restarted)."""
        lag = time.monotonic() - self._beat_at
        problems = []
        if lag > self.opts.wedged_after_s:
            problems.append(f"the event loop has not turned for {lag:.0f}s")
        fatal = self.failure or self.outlet.status().fatal
        if fatal:
            problems.append(fatal)
        return not problems, {"status": "alive" if not problems else "wedged", "problems": problems,
                              "event_loop_lag_s": round(lag, 3)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready while a feed is connected (or a finite source has ended) and Kafka acknowledges deliveries."""
        problems = []
        if not (any(l.connected for l in self.links) or self.primary.ended):
            problems.append("no provider feed is connected")
        d = self.outlet.status()
        if d.fatal:
            problems.append(f"the Kafka producer failed: {d.fatal}")
        elif not d.reachable:
            problems.append("Kafka is unreachable")
        elif d.stuck(self.opts.stuck_after_s):
            problems.append(f"{d.undelivered} records wait for Kafka, the oldest for {d.oldest_undelivered_s:.0f}s")
        return not problems, {"status": "ready" if not problems else "not ready", "problems": problems}

    def health(self) -> dict[str, Any]:
        ready, why = self.readiness()
        live, alive = self.liveness()
        d = self.outlet.status()
        paused = self.outlet.paused_since
        return {"status": "ok" if ready and live else "degraded", "problems": why["problems"] + alive["problems"],
                "active": self.active, "symbols": self.symbols,
                "providers": {l.name: l.state() for l in self.links},
                "kafka": {"reachable": d.reachable, "undelivered": d.undelivered, "capacity": d.capacity,
                          "oldest_undelivered_s": round(d.oldest_undelivered_s, 3), "delivered": d.delivered,
                          "failed": d.failed, "feed_paused_s": round(time.monotonic() - paused, 3) if paused else None},
                "event_loop_lag_s": alive["event_loop_lag_s"]}

    # --- a provider's loop ----------------------------------------------------------------------
    async def _link_loop(self, link: Link) -> None:
        while not self.stopping.is_set():
            if not link.breaker.allow():
                self.metrics.circuit_open.labels(link.name).set(1)
                await asyncio.sleep(min(0.5, max(0.05, link.breaker.seconds_until_probe())))
                continue
            queue: asyncio.Queue = asyncio.Queue(maxsize=FEED_QUEUE)
            pump = asyncio.create_task(self._pump(link, queue))
            try:
                await self._session(link, queue)
                link.ended = True
                log.info("%s: source ended", link.name)
                return
            except DeliveryFailed:  # the producer cannot go on: the service stops (run says why)
                raise
            except AuthError as exc:
                self._error(link, "auth", exc)
                for _ in range(link.breaker.failure_threshold):
                    link.breaker.record_failure()
            except ProviderError as exc:
                self._error(link, "connection", exc)
                link.breaker.record_failure()
            except Exception as exc:  # a defect in an adapter must not stop the service: log it, reconnect
                log.exception("%s: unexpected error", link.name)
                self._error(link, "internal", exc)
                link.breaker.record_failure()
            finally:
                await cancel_and_wait(pump)
                link.connected = False
                self.metrics.connected.labels(link.name).set(0)
            self.metrics.circuit_open.labels(link.name).set(1 if link.breaker.state == OPEN else 0)
            self._maybe_fail_over()
            await asyncio.sleep(link.backoff.next_delay())

    async def _pump(self, link: Link, queue: asyncio.Queue) -> None:
        """Moves the provider's batches into ``queue``; its end or error is queued too."""
        stream = link.provider.stream(self.symbols)
        try:
            async for batch in stream:
                await queue.put(batch)
            await queue.put(_DONE)
        except StreamEnded:
            await queue.put(_DONE)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # delivered to the session, which decides
            await queue.put(exc)
        finally:
            await stream.aclose()

    @staticmethod
    def _next(item: Any) -> list[Record] | None:
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def _session(self, link: Link, queue: asyncio.Queue) -> None:
        first = self._next(await queue.get())
        if first is None:
            return
        link.connected = True
        link.breaker.record_success()
        link.backoff.reset()
        self.metrics.connected.labels(link.name).set(1)
        self.metrics.circuit_open.labels(link.name).set(0)
        if link.sessions:
            self.metrics.reconnects.labels(link.name).inc()
            log.info("%s: reconnected", link.name)
        link.sessions += 1
        held = list(first)
        if self._should_join(link):
            held += await self._read_until_cut(link, queue)
            await self._join(link, held)
        await self._accept(link, held)
        while True:
            batch = self._next(await queue.get())
            if batch is None:
                return
            await self._accept(link, batch)

    def _should_join(self, link: Link) -> bool:
        """The primary always takes (back) the feed; the backup only when the primary is not connected."""
        return link is self.primary or not self.primary.connected

    async def _read_until_cut(self, link: Link, queue: asyncio.Queue) -> list[Record]:
        """Live records read while waiting for the first live trade of every symbol (or the time limit)."""
        held: list[Record] = []
        seen: set[str] = set()
        deadline = time.monotonic() + self.opts.first_trade_wait_s
        while len(seen) < len(self.symbols):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                break
            batch = self._next(item)
            if batch is None:
                break
            held.extend(batch)
            seen.update(r.symbol for r in batch if isinstance(r, RawTrade))
        return held

    async def _join(self, link: Link, held: list[Record]) -> None:
        previous = self.active
        self.active = link.name
        for other in self.links:
            self.metrics.active.labels(other.name).set(1 if other is link else 0)
        if previous is not None and previous != link.name:
            self.metrics.failovers.labels(previous, link.name).inc()
            log.warning("failover: %s → %s", previous, link.name)
        cut = {}
        for r in held:
            if isinstance(r, RawTrade) and r.symbol not in cut:
                cut[r.symbol] = r.ts_event
        for symbol in self.symbols:
            self.gate.set_boundary(link.name, symbol)
            position = self.gate.position(symbol)
            if position is not None and link.provider.can_backfill:
                until = cut.get(symbol)
                async for batch in link.provider.backfill(symbol, position.ts):
                    if until is not None:
                        batch = [r for r in batch if not (isinstance(r, RawTrade) and r.ts_event >= until)]
                    await self._accept(link, batch, backfill=True)
            self.gate.set_boundary(link.name, symbol)
        if link is self.primary and self.backup is not None and self.backup.task is not None:
            stopping = asyncio.create_task(cancel_and_wait(self.backup.task))
            self._stopping_links.add(stopping)
            stopping.add_done_callback(self._stopping_links.discard)
            self.backup.task = None
            log.info("%s is back; backup %s stopped", link.name, self.backup.name)

    def _maybe_fail_over(self) -> None:
        backup = self.backup
        if backup is None or self.stopping.is_set() or self.primary.breaker.state != OPEN:
            return
        if backup.task is None or backup.task.done():
            log.warning("%s unavailable (%s); starting backup %s", self.primary.name, self.primary.last_error,
                        backup.name)
            backup.task = asyncio.create_task(self._link_loop(backup))

    # --- records --------------------------------------------------------------------------------
    async def _accept(self, link: Link, records: list[Record], backfill: bool = False) -> int:
        """Publish those of ``records`` that should be, ``CHUNK`` at a time once the producer has room for
        them (the feed waits meanwhile); returns how many were."""
        outlet, published = self.outlet, 0
        for i in range(0, len(records), CHUNK):
            chunk = records[i:i + CHUNK] if len(records) > CHUNK else records
            if not outlet.has_room(len(chunk)):
                await outlet.room(len(chunk))
            published += self._publish(link, chunk, backfill)
        return published

    def _publish(self, link: Link, records: list[Record], backfill: bool) -> int:
        """Publish those of ``records`` that should be; returns how many were. Metrics move once per batch."""
        if not records:
            return 0
        name = link.name
        now = time.time()
        link.last_record_at = now
        kinds: dict[str, int] = {}
        published = duplicates = 0
        lag_record: RawTrade | RawQuote | None = None
        active = self.active == name
        renumber = link.provider.seq_from_position
        gate, ids, publish = self.gate, self.ids, self.outlet.publish
        for record in records:
            kind = type(record).__name__
            kinds[kind] = kinds.get(kind, 0) + 1
            if isinstance(record, Malformed):
                publish(name, record)
                continue
            if not active:
                continue
            if type(record) is RawTrade:
                content = (record.price, record.size)
                key = (record.source, record.trade_id) if record.trade_id is not None else None
                if key is not None and key in ids:
                    gate.behind_boundary(name, record.symbol, record.ts_event, content)  # uses up its place
                    duplicates += 1
                    continue
                if not gate.admit(name, record.symbol, record.ts_event, content):
                    duplicates += 1
                    continue
                if key is not None:
                    ids.add(key, record.ts_event)
                if renumber:
                    k = gate.positions[record.symbol].published_at_ts() - 1
                    record = dataclasses.replace(record, seq=position_seq(record.ts_event, k))
                lag_record = record
            elif type(record) is RawQuote:
                lag_record = record
            publish(name, record)
            published += 1
        m = self.metrics
        for kind, n in kinds.items():
            m.messages_in.labels(name, kind).inc(n)
        m.last_message.labels(name).set(now)
        if duplicates:
            m.duplicates.labels(name).inc(duplicates)
        if published:
            self.last_published_at = now
            if backfill:
                m.backfilled.labels(name).inc(published)
            elif lag_record is not None:
                m.lag.labels(name).set(max(0.0, (lag_record.ts_recv - lag_record.ts_event) / 1e9))
        return published

    def _error(self, link: Link, kind: str, exc: Exception) -> None:
        link.last_error = str(exc)
        self.metrics.errors.labels(link.name, kind).inc()
        key = (link.name, str(exc)[:80])
        if key in self._logged:
            log.debug("%s", exc)
        else:
            self._logged.add(key)
            log.warning("%s (%s): %s", link.name, link.role, exc)

