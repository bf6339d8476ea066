"""Running a simulator's asyncio servers on a background thread, with switches for injecting faults."""
from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


@dataclass
class Faults:
    """What a simulator does wrong, set by tests while it runs.

    - ``refuse_auth``: answer every login with the provider's auth-failure message.
    - ``garbage_every``: after every n-th data frame also send a frame that is not valid for the protocol.
    - ``http_429`` / ``http_500``: answer the next n history requests with that status.
    - ``stalled``: stop sending and stop reading (a half-open connection: pings go unanswered).
    """

    refuse_auth: bool = False
    garbage_every: int = 0
    http_429: int = 0
    http_500: int = 0
    stalled: bool = False

    def take_http_error(self) -> int | None:
        if self.http_429 > 0:
            self.http_429 -= 1
            return 429
        if self.http_500 > 0:
            self.http_500 -= 1
            return 500
        return None


def hold_still(transport, stalled: bool, paused: bool) -> bool:
    """Pause or resume reading a client's socket to match ``stalled``; returns the new paused state.

    A paused socket is not read, so the client's WebSocket pings go unanswered: a half-open connection.
    """
    if transport is None or stalled == paused:
        return paused
    try:
        transport.pause_reading() if stalled else transport.resume_reading()
    except (RuntimeError, AttributeError):
        pass
    return stalled


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SimulatorServer:
    """Base of the provider simulators: ``start()`` serves on a thread, ``stop()`` shuts down.

    Subclasses implement ``_serve`` (start servers on ``self.host``/``self.port``) and ``_shutdown``, and
    ``drop_connections`` (close every client socket, as a network failure would).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.faults = Faults()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # --- subclass hooks -------------------------------------------------------------------------
    async def _serve(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError

    async def _drop(self) -> None:
        raise NotImplementedError

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"{type(self).__name__} did not start within 30s")
        if self._error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start: {self._error}")
        return self

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._shutdown())
        self.loop.close()

    def stop(self) -> None:
        """Stop serving and close every connection (a provider outage)."""
        if self.loop is None or self._thread is None:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop = None
        self._thread = None

    def call(self, fn: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
        """Run a coroutine function on the simulator's loop and wait for its result."""
        assert self.loop is not None, "simulator not running"
        fut: Future = asyncio.run_coroutine_threadsafe(fn(), self.loop)
        return fut.result(timeout)

    def drop_connections(self) -> None:
        """Close every client connection now; the server keeps listening."""
        self.call(self._drop)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WebSimulator(SimulatorServer):
    """A simulator served by aiohttp: subclasses add their routes; open WebSockets are tracked so that
    ``drop_connections`` can cut them as a network failure would (the socket aborted, no close frame)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.sockets: set = set()
        self._runner = None

    def _routes(self, app) -> None:
        raise NotImplementedError

    async def _serve(self) -> None:
        from aiohttp import web

        app = web.Application()
        self._routes(app)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def _shutdown(self) -> None:
        await self._drop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _drop(self) -> None:
        for ws in list(self.sockets):
            if ws._req is not None and ws._req.transport is not None:
                ws._req.transport.abort()
        self.sockets.clear()
