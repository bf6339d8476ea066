"""The bounded conversions every parser of provider JSON goes through: decimal text, integers, texts, and
JSON decoding whose every failure is a ValueError. Each refusal is decided while the value is still
short text, so none of these can hang (``1e999999999`` used to take minutes and gigabytes)."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from connectors import wire_json
from connectors.alphavantage import volume_text
from connectors.decimals import bounded_decimal, decimal_text
from connectors.fields import (
    conditions_field,
    int_field,
    ms_to_ns,
    short,
    symbol_field,
    text_field,
)
from connectors.symbols import SymbolMap


@pytest.mark.parametrize("bad", ["1e999999999", "-1e999999999", "1e-999999999", Decimal("1E+999999999"),
                                 Decimal("-1E-999999999"), "9" * 65, "1" * 10, "1.0000000001", "١٢٣", "1_000",
                                 "0x10", "NaN", "Infinity", Decimal("NaN"), 10**4000, [1], {"p": 1}, None, True, 1.5,
                                 "1e10", " ", ""])
def test_decimal_text_refuses_at_once_what_the_contract_cannot_carry(bad):
    started = time.monotonic()
    with pytest.raises(ValueError):
        decimal_text(bad)
    assert time.monotonic() - started < 0.05


@pytest.mark.parametrize("value,text", [("0e-999999999", "0"), (Decimal("0E+999999999"), "0"), ("1E+8", "100000000"),
                                        ("164025e-2", "1640.25"), ("1640.2500000000000000", "1640.25"),
                                        (Decimal("-0.000000001"), "-0.000000001"), (" 7 ", "7"),
                                        (999999999, "999999999")])
def test_decimal_text_still_reads_every_number_that_fits(value, text):
    assert decimal_text(value) == text


def test_volumes_have_twelve_integer_digits_and_the_same_bounds():
    assert volume_text("999999999999") == "999999999999"
    for bad in ("1e999999999", "1000000000000", "-1", Decimal("1E+13")):
        with pytest.raises(ValueError):
            volume_text(bad)
    assert bounded_decimal("0.5", 1, 1) == Decimal("0.5")


@pytest.mark.parametrize("bad", [True, 1.0, "12", Decimal("1.5"), Decimal("1E+999999999"), Decimal("Infinity"), -1,
                                 2**63, None, [1]])
def test_integer_fields_are_json_integers_in_the_bigint_range(bad):
    started = time.monotonic()
    with pytest.raises(ValueError):
        int_field(bad, "q")
    assert time.monotonic() - started < 0.05


def test_integer_fields_and_ms_times():
    assert int_field(Decimal("1378072800083"), "t") == 1378072800083 == int_field(1378072800083, "t")
    assert ms_to_ns(1378072800083, "t") == 1378072800083000000
    with pytest.raises(ValueError):
        ms_to_ns(2**63 // 1_000_000 + 1, "t")


def test_texts_are_bounded_unicode_without_nul():
    assert text_field("ES", "sym", 32) == "ES" and text_field(52983525029461, "i", 40, ints=True) == "52983525029461"
    for bad in ("", "A" * 33, "E\x00S", "\ud800", 5, ["ES"], {"a": 1}):
        with pytest.raises(ValueError):
            text_field(bad, "sym", 32)
    assert symbol_field("ESU3", SymbolMap("polygon", {"ES": "ESU3"})) == "ES"
    assert conditions_field(None) == () and conditions_field([12, "I"]) == ("12", "I")
    for bad in ("12", [[12]], [None], list(range(65))):
        with pytest.raises(ValueError):
            conditions_field(bad)


def test_a_description_of_any_value_is_short():
    assert len(short(10**4000)) < 70 and len(short([[[]]] * 10**4)) < 70 and len(short("x" * 10**5)) < 70
    assert len(short(Decimal("1E+999999999"))) < 70


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 50_000, "[1e999999999999999999999]", "1" * 5000, "\xff"])
def test_json_that_python_cannot_read_is_a_value_error(text):
    with pytest.raises(ValueError):
        wire_json.loads(text.encode("utf-8", "surrogatepass") if text == "\xff" else text, parse_float=Decimal)


def test_json_written_back_falls_back_when_nested_too_deeply():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert wire_json.dumps_or(deep, b"frame") == b"frame"
    assert json.loads(wire_json.dumps_or({"p": Decimal("1.5")}, b"")) == {"p": "1.5"}
