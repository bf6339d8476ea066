"""Encoding records in the canonical raw contract (``schemas/raw_trade.schema.json``).

Every connector ends here, so the wire form of ``md.raw.trades`` is written in exactly one place.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

CONTRACT_VERSION = 1
# DECIMAL(18,9): at most 9 integer and 9 fractional digits, optional sign.
DECIMAL_TEXT = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,9})?")


def is_decimal_text(text: str) -> bool:
    """True when ``text`` is a decimal the contract can carry exactly (no exponent, no float noise)."""
    return DECIMAL_TEXT.fullmatch(text) is not None


@dataclass(frozen=True)
class RawTrade:
    """One canonical raw trade. Prices and sizes stay text so that they are never rounded."""

    source: str
    symbol: str
    venue: str | None
    ts_event: int
    ts_recv: int
    seq: int
    price: str
    size: str
    trade_id: str | None = None
    conditions: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return json.dumps({
            "v": CONTRACT_VERSION, "source": self.source, "symbol": self.symbol, "venue": self.venue,
            "ts_event": self.ts_event, "ts_recv": self.ts_recv, "seq": self.seq,
            "price": self.price, "size": self.size, "trade_id": self.trade_id,
            "conditions": list(self.conditions),
        }, separators=(",", ":")).encode()


class TradeEncoder:
    """Fast encoder for many trades of one (source, symbol, venue): the constant part is built once.

    Produces bytes identical to ``RawTrade(...).to_json()`` for trades without id or conditions.
    """

    def __init__(self, source: str, symbol: str, venue: str | None) -> None:
        d = json.dumps
        self._head = f'{{"v":{CONTRACT_VERSION},"source":{d(source)},"symbol":{d(symbol)},"venue":{d(venue)},'

    def encode(self, ts_event: int, ts_recv: int, seq: int, price: str, size: str) -> bytes:
        return (f'{self._head}"ts_event":{ts_event},"ts_recv":{ts_recv},"seq":{seq},'
                f'"price":"{price}","size":"{size}","trade_id":null,"conditions":[]}}').encode()
