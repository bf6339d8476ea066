"""JSON from providers, decoded so that no input can do more than fail with ValueError.

Python's decoder recurses per nesting level: ``[[[[…`` deeper than the interpreter's recursion limit
raises RecursionError (not a ValueError), which would escape every ``except ValueError`` around a parse;
so does ``decimal.InvalidOperation`` (an ArithmeticError) when ``parse_float=Decimal`` meets an exponent
beyond Decimal's range. Integers past Python's digit limit (4,300) already raise ValueError.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def loads(data: str | bytes, parse_float: Callable[[str], Any] | None = None) -> Any:
    """``json.loads`` whose every failure is a ValueError (bad UTF-8 included)."""
    try:
        return json.loads(data, parse_float=parse_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ArithmeticError:
        raise ValueError("a JSON number beyond the decimal range") from None


def dumps_or(value: Any, fallback: bytes) -> bytes:
    """``value`` as compact JSON bytes (any value a decoder returned), or ``fallback`` when it cannot be
    written back (nested too deeply for this stack)."""
    try:
        return json.dumps(value, default=str, separators=(",", ":")).encode("utf-8", "surrogatepass")
    except (RecursionError, ValueError):
        return fallback
