"""Checked fields of provider records: integers that fit a BIGINT, texts the contracts and md.dlq can carry.

A provider's JSON may hold any value in any field. These turn a field into what a raw record needs or
raise ValueError saying why not, without converting containers or huge numbers on the way (``int()`` of
``Decimal("1e999999999")`` would build a billion-digit integer; ``str()`` of a deeply nested list
recurses).
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.symbols import SymbolMap

INT64_MAX = 2**63 - 1
NS_PER_MS = 1_000_000
MAX_MS = INT64_MAX // NS_PER_MS


def int_field(value: object, what: str, lo: int = 0, hi: int = INT64_MAX) -> int:
    """A JSON integer in ``[lo, hi]`` (an integral ``Decimal`` too, as REST bodies parse); nothing else:
    not a bool, a float's text, a string of digits."""
    if type(value) is int:
        n = value
    elif isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 19 \
            and value == value.to_integral_value():
        n = int(value)
    else:
        raise ValueError(f"{what} is not an integer: {short(value)}")
    if not lo <= n <= hi:
        raise ValueError(f"{what} {n} is outside [{lo}, {hi}]")
    return n


def ms_to_ns(value: object, what: str) -> int:
    """A time in integer milliseconds since the epoch as ns, within the BIGINT range."""
    return int_field(value, what, 0, MAX_MS) * NS_PER_MS


def text_field(value: object, what: str, max_len: int, ints: bool = False) -> str:
    """A non-empty string of at most ``max_len`` characters that is Unicode text without NUL (PostgreSQL
    refuses NUL; a lone surrogate cannot be encoded). ``ints``: a JSON integer is taken as its digits
    (Polygon's trade ids and conditions are numbers)."""
    if ints and type(value) is int and -INT64_MAX - 1 <= value <= INT64_MAX:
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string: {short(value)}")
    if not 1 <= len(value) <= max_len:
        raise ValueError(f"{what} is {len(value)} characters long, not 1 to {max_len}")
    if not is_clean_text(value):
        raise ValueError(f"{what} {value!r} holds NUL or is not Unicode text")
    return value


def is_clean_text(text: str) -> bool:
    """True when ``text`` encodes as UTF-8 and holds no NUL."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def symbol_field(value: object, symbols: SymbolMap) -> str:
    """The tickflow symbol of a provider's ticker field (a ticker of up to 64 characters, mapped to at most 32)."""
    return text_field(symbols.to_tickflow(text_field(value, "symbol", 64)), "symbol", 32)


def conditions_field(value: object, max_items: int = 64) -> tuple[str, ...]:
    """A trade's condition codes: null/absent, or a list of at most ``max_items`` short strings or integers."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > max_items:
        raise ValueError(f"conditions are not a list of at most {max_items} codes: {short(value)}")
    return tuple(text_field(c, "condition", 32, ints=True) for c in value)


def symbol_or_blank(value: object) -> str:
    """``value`` when it could be a symbol (md.dlq keys a malformed record by it), else ``""``."""
    return value if isinstance(value, str) and 1 <= len(value) <= 32 and is_clean_text(value) else ""


def short(value: object, limit: int = 60) -> str:
    """A bounded description of any parsed JSON value, for error details (never ``str()`` of a container)."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'} of {len(value)} items"
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        if isinstance(value, int) and abs(value) >= 10**limit:
            return f"an integer of more than {limit} digits"
        text = f"{value:.6e}" if isinstance(value, Decimal) and abs(value.adjusted()) > limit else str(value)
        return text[:limit]
    return repr(value)[:limit]
