"""Provider numbers → the exact decimal text of the raw contracts, never through a float."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from connectors.raw_contract import DECIMAL_TEXT, is_decimal_text

_CANONICAL_SHAPE = re.compile(r"-?(0|[1-9][0-9]{0,8})(\.[0-9]{1,9})?")


def decimal_text(value: object) -> str:
    """Canonical decimal text of a JSON number's text, a ``Decimal``, an int or a numeric string.

    JSON numbers must be parsed with ``json.loads(..., parse_float=str)`` (or ``Decimal``) so that
    ``1640.25`` never becomes a binary float; the text of a plain decimal is used as it is. Exponents are expanded, trailing fractional zeros dropped (``"189.70"`` →
    ``"189.7"``). Raises ValueError when the value is not a finite decimal the contract can carry.
    """
    if type(value) is str and _CANONICAL_SHAPE.fullmatch(value):  # the common case, without a Decimal
        if "." in value and value.endswith("0"):
            value = value.rstrip("0").rstrip(".")
        return "0" if value in ("-0", "") else value
    if type(value) is int:
        text = str(value)
        if not DECIMAL_TEXT.fullmatch(text):
            raise ValueError(f"{value!r} does not fit DECIMAL(18,9)")
        return text
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        raise ValueError("binary float reached decimal_text; parse JSON with parse_float=Decimal")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if not is_decimal_text(text):
        raise ValueError(f"{value!r} does not fit DECIMAL(18,9)")
    return text


def fixed_price_text(raw: int, scale: int = 9) -> str:
    """Text of an integer fixed-point price (Databento: int64 × 1e-9)."""
    return decimal_text(Decimal(raw).scaleb(-scale))
