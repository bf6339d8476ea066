"""Provider numbers → the exact decimal text of the raw contracts, never through a float.

Every number is bounded before any Decimal arithmetic or formatting: a provider (or anyone between it and
us) can send ``1e999999999``, which ``Decimal`` reads at once but ``format`` would expand into a billion
digits. A number that cannot fit the contract's columns is refused while it is still short text.
"""
from __future__ import annotations

import re
from decimal import Decimal

from connectors.raw_contract import is_decimal_text

_CANONICAL_SHAPE = re.compile(r"-?(0|[1-9][0-9]{0,8})(\.[0-9]{1,9})?")
#: a number's text as JSON or a provider's string writes it (ASCII digits only, no underscores)
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: longer number text is refused unread (DECIMAL(18,9) needs at most 20 characters; this leaves room for
#: trailing zeros and exponents)
MAX_NUMBER_TEXT = 64
_TEN_POW_9 = 10**9


def bounded_decimal(value: object, int_digits: int = 9, frac_digits: int = 9) -> Decimal:
    """``value`` (number text, a ``Decimal`` or an int) as a Decimal of at most ``int_digits`` integer and
    ``frac_digits`` fractional digits; ValueError for anything else, decided before any expansion."""
    if type(value) is int:
        if not -10**int_digits < value < 10**int_digits:
            raise ValueError(f"{value} has more than {int_digits} integer digits")
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_TEXT:
            raise ValueError(f"number text of {len(text)} characters")
        if not _NUMBER_TEXT.fullmatch(text):
            raise ValueError(f"not a decimal: {text!r}")
        d = Decimal(text)
    elif isinstance(value, Decimal):
        d = value
    elif isinstance(value, float):
        raise ValueError("binary float reached decimal_text; parse JSON with parse_float=Decimal")
    else:
        raise ValueError(f"not a number: {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {d}")
    if d.is_zero():
        return Decimal(0)
    if not -frac_digits <= d.adjusted() < int_digits:
        raise ValueError(f"{d:.3e} does not fit {int_digits}+{frac_digits} digits")
    if len(d.as_tuple().digits) > MAX_NUMBER_TEXT:
        raise ValueError(f"{d:.3e} has more than {MAX_NUMBER_TEXT} digits")
    return d


def plain_text(d: Decimal) -> str:
    """A bounded Decimal's plain text without trailing fractional zeros (``189.70`` → ``189.7``)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def decimal_text(value: object) -> str:
    """Canonical decimal text of a JSON number's text, a ``Decimal``, an int or a numeric string.

    JSON numbers must be parsed with ``json.loads(..., parse_float=str)`` (or ``Decimal``) so that
    ``1640.25`` never becomes a binary float; the text of a plain decimal is used as it is. Exponents are
    expanded, trailing fractional zeros dropped (``"189.70"`` → ``"189.7"``). Raises ValueError when the
    value is not a finite decimal the contract can carry.
    """
    if type(value) is str and _CANONICAL_SHAPE.fullmatch(value):  # the common case, without a Decimal
        if "." in value and value.endswith("0"):
            value = value.rstrip("0").rstrip(".")
        return "0" if value in ("-0", "") else value
    if type(value) is int and -_TEN_POW_9 < value < _TEN_POW_9:
        return str(value)
    text = plain_text(bounded_decimal(value))
    if not is_decimal_text(text):
        raise ValueError(f"{text} does not fit DECIMAL(18,9)")
    return text


def fixed_price_text(raw: int, scale: int = 9) -> str:
    """Text of an integer fixed-point price (Databento: int64 × 1e-9)."""
    return decimal_text(Decimal(raw).scaleb(-scale))

