"""What every provider adapter is: a live feed of normalised records, and a backfill over its REST API.

A provider speaks its own protocol and hands the service canonical records (``raw_contract``) or
``Malformed`` ones; reconnecting, rate limits, dedupe, failover and publishing are the service's
(``connectors/service.py``), written once for all of them.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from connectors.raw_contract import RawBar, RawQuote, RawTrade
from connectors.redaction import redact


@dataclass(frozen=True)
class Malformed:
    """A frame or record that could not be normalised: it goes to md.dlq with its original bytes."""

    detail: str
    original: bytes
    symbol: str = ""


Record = RawTrade | RawQuote | RawBar | Malformed


class ProviderError(Exception):
    """The connection failed or the provider misbehaved; the service reconnects (with backoff).

    Its text is masked (``redaction.redact``) when it is made: it quotes URLs and what servers sent, and
    it ends up in logs and in ``/health``'s ``last_error``.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(redact(str(message)))


class AuthError(ProviderError):
    """The provider refused the credentials. Retrying will not help; the service fails over if it can."""


class StreamEnded(Exception):
    """A finite source (a file, a bounded simulator run) has no more records; not an error."""


class Provider(ABC):
    """One provider's protocol. Subclasses set ``name`` and implement ``stream``; ``backfill`` if they can."""

    name: str = "provider"
    #: whether ``backfill`` can recover trades missed while disconnected
    can_backfill: bool = False
    #: the feed has no sequence numbers: the service numbers its trades from their millisecond and place
    seq_from_position: bool = False

    @abstractmethod
    def stream(self, symbols: list[str]) -> AsyncGenerator[list[Record], None]:
        """Connect, authenticate, subscribe to ``symbols`` (tickflow names) and yield batches of records.

        Raises ``AuthError`` on refused credentials, ``ProviderError`` on a lost or silent connection,
        ``StreamEnded`` (or returns) when a finite source is exhausted. An async generator: the service
        closes it (``aclose``) when the session ends.
        """

    async def backfill(self, symbol: str, since_ns: int) -> AsyncIterator[list[Record]]:
        """Yield the trades of ``symbol`` with ``ts_event >= since_ns`` from the provider's history API."""
        return
        yield  # pragma: no cover - makes this an async generator

    async def close(self) -> None:  # noqa: B027 - a no-op by default, not abstract: most providers hold nothing
        """Release what the provider holds (HTTP sessions)."""
