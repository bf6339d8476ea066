"""Seeded mutations of valid inputs: byte edits, and edits of the values of JSON documents.

Everything is drawn from the ``random.Random`` passed in, so input *i* of a run is rebuilt from the run's
seed and *i* alone (a failing input is reported and replayed that way).
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache


class Raw(str):
    """JSON text used as it is (a number's own text, or any fragment)."""


# --- interesting values ----------------------------------------------------------------------------------

NUMBERS = [
    "0", "-0", "1", "-1", "0.0", "1640.25", "1640.250000000000000000", "999999999.999999999", "1000000000",
    "0.000000001", "0.0000000001", "-999999999.999999999", "1e9", "1E+8", "1.64025e3", "164025e-2",
    "1e999999999", "-1e999999999", "1e-999999999", "0e-999999999", "0E+999999999", "1e400", "1.5e308",
    "5e-324", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "1" + "0" * 30, "9" * 4300, "9" * 4301, "1" * 5000, "0." + "0" * 5000 + "1",
    "1" + "0" * 400 + ".5", "NaN", "Infinity", "-Infinity", "1378072800083", "1378072800083000000",
    "99999999999999999999", "4294967295", "-2147483648",
]
STRINGS = [
    "", " ", "ES", "es", "ESU3", "T", "Q", "AM", "status", "trade", "ping", "error", "1640.25", " 1640.25 ",
    "1e999999999", "0e-999999999", "NaN", "Infinity", "-0", "0x10", "1_000", "１２３", "²", "٣", "\u0000",
    "\ud800", "\udfff", "\ufeff", "A" * 33, "A" * 65, "\n", "a|b|c", "2013-09-01 17:00:00",
    "2013-11-03 01:30:00", "2014-03-09 02:30:00", "9999-12-31 23:59:59", "0001-01-01 00:00:00",
    "Time Series (1min)", "Error Message", "Information", "Note", "apikey", "Invalid API call",
    "https://evil.example/steal", "http://127.0.0.1:1/v3/trades/ES?cursor=1-1",
]
LITERALS = ["null", "true", "false", "[]", "{}", '""', "[[]]", "[{}]", '{"":null}']


LONG_STRINGS = ["B" * 20_000, "\u00e9" * 5000, "1" * 5000]
STRING_TEXTS = [json.dumps(s) for s in STRINGS]


@cache
def nested(depth: int, kind: str = "[") -> str:
    close = "]" if kind == "[" else "}"
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + close * depth


@cache
def wide(item: str, n: int) -> str:
    return "[" + ",".join([item] * n) + "]"


def random_number(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.choice((1, 2, 5, 9, 10, 18, 19, 20, 40))))
    text = ("-" if rng.random() < 0.2 else "") + (digits.lstrip("0") or "0")
    if rng.random() < 0.5:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.choice((1, 2, 9, 10, 30))))
    if rng.random() < 0.3:
        text += rng.choice("eE") + rng.choice(("", "+", "-")) + str(rng.choice((0, 1, 9, 10, 18, 100, 10**6, 10**9)))
    return text


def interesting_json(rng: random.Random) -> Raw:
    """Any JSON value worth trying in a field: edge numbers, odd strings, deep or wide containers."""
    r = rng.random()
    if r < 0.4:
        return Raw(rng.choice(NUMBERS) if rng.random() < 0.7 else random_number(rng))
    if r < 0.72:
        return Raw(rng.choice(STRING_TEXTS) if rng.random() < 0.9 else json.dumps(rng.choice(LONG_STRINGS)))
    if r < 0.88:
        return Raw(rng.choice(LITERALS))
    if r < 0.96:  # deep: a few levels, past the parser's recursion limit, far past it
        return Raw(nested(rng.choice((2, 3, 50, 50, 900, 1000, 3000, 20_000)), rng.choice("[{")))
    return Raw(wide(rng.choice(NUMBERS[:8]), rng.choice((10, 10, 100, 2000))))


# --- byte edits --------------------------------------------------------------------------------------------

BYTES = [b"\x00", b"\xff", b"\x80", b"\xc0", b"\xed\xa0\x80", b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":",
         b"\n", b"\r\n", b" ", b"-", b".", b"e", b"0", b"9", b"|", b"="]


def mutate_bytes(rng: random.Random, data: bytes, tokens: list[bytes] | None = None) -> bytes:
    """One byte-level edit: flip, overwrite, delete, duplicate, insert a token, truncate."""
    b = bytearray(data)
    n = len(b)
    op = rng.randrange(8)
    if n == 0:
        return rng.choice(BYTES)
    i = rng.randrange(n)
    if op == 0:
        b[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        b[i] = rng.randrange(256)
    elif op == 2:
        del b[i:i + rng.choice((1, 2, 4, 8, 64, n))]
    elif op == 3:
        j = min(n, i + rng.choice((1, 4, 16, 256)))
        b[i:i] = b[i:j] * rng.choice((1, 2, 30))
    elif op == 4:
        b[i:i] = rng.choice(tokens or BYTES) if tokens and rng.random() < 0.6 else rng.choice(BYTES)
    elif op == 5:
        del b[i:]
    elif op == 6:
        b[i:i + 1] = rng.choice(BYTES)
    else:
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 8))))
    return bytes(b)


def splice(rng: random.Random, a: bytes, b: bytes) -> bytes:
    return a[:rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1):]


@dataclass(frozen=True)
class Span:
    """Where one value of a JSON text lies; ``member`` is where its ``"key":value`` starts (objects only)."""

    start: int
    end: int
    member: int = -1


def value_spans(text: str) -> list[Span]:
    """Every value of a (valid) JSON text, containers included, by scanning it once."""
    out: list[Span] = []
    ws = " \t\r\n"

    def skip(i: int) -> int:
        while i < len(text) and text[i] in ws:
            i += 1
        return i

    def string_end(i: int) -> int:  # text[i] == '"'
        i += 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return i + 1

    def value(i: int, member: int = -1) -> int:
        i = skip(i)
        c = text[i]
        if c == '"':
            end = string_end(i)
        elif c in "[{":
            close = "]" if c == "[" else "}"
            j = skip(i + 1)
            while text[j] != close:
                if c == "{":
                    k = j
                    j = skip(string_end(j))  # the key, then ':'
                    j = value(j + 1, k)
                else:
                    j = value(j)
                j = skip(j)
                if text[j] == ",":
                    j = skip(j + 1)
            end = j + 1
        else:
            end = i
            while end < len(text) and text[end] not in ",]}" + ws:
                end += 1
        out.append(Span(i, end, member))
        return end

    value(0)
    return out


class JsonMutator:
    """Inputs made from valid JSON seeds: edits of values (any JSON in any field, a key twice, a field
    dropped, a value wrapped or turned into a string), byte edits, splices."""

    def __init__(self, seeds: list[bytes]) -> None:
        self.seeds = seeds
        self.texts = [s.decode() for s in seeds]
        self.spans = [value_spans(t) for t in self.texts]
        self.tokens = ([s.encode() for s in NUMBERS[:30]]
                       + [s.encode("utf-8", "surrogatepass") for s in STRING_TEXTS[:30]])

    def _edit(self, rng: random.Random, text: str, span: Span) -> tuple[int, int, str]:
        """(start, end, replacement) of one edit at ``span``."""
        old = text[span.start:span.end]
        op = rng.random()
        if op < 0.6:
            return span.start, span.end, interesting_json(rng)
        if op < 0.68:
            return span.start, span.end, json.dumps(old)
        if op < 0.74:
            return span.start, span.end, "[" + old + "]"
        if span.member >= 0:
            if op < 0.84:  # drop the member (and one comma next to it)
                end = span.end + 1 if text[span.end:span.end + 1] == "," else span.end
                start = span.member - 1 if end == span.end and text[span.member - 1:span.member] == "," else span.member
                return start, end, ""
            if op < 0.94:  # the same key again, with another value
                key = text[span.member:span.start]
                return span.end, span.end, "," + key + interesting_json(rng)
            return span.end, span.end, "," + json.dumps(rng.choice(STRINGS[:24])) + ":" + interesting_json(rng)
        if op < 0.9 and span.start > 0:
            return span.end, span.end, "," + (old if rng.random() < 0.5 else interesting_json(rng))
        return span.start, span.end, interesting_json(rng)

    def __call__(self, rng: random.Random) -> bytes:
        r = rng.random()
        k = rng.randrange(len(self.seeds))
        if r < 0.03:
            return self.seeds[k]
        if r < 0.65:
            text, spans = self.texts[k], self.spans[k]
            edits = sorted((self._edit(rng, text, rng.choice(spans)) for _ in range(rng.choice((1, 1, 2, 3)))),
                           reverse=True)
            limit = len(text)
            for start, end, new in edits:  # from the end, so that earlier positions stay valid
                if end > limit:
                    continue
                text = text[:start] + new + text[end:]
                limit = start
            data = text.encode("utf-8", "surrogatepass")
            return mutate_bytes(rng, data, self.tokens) if rng.random() < 0.15 else data
        if r < 0.93:
            data = self.seeds[k]
            for _ in range(rng.choice((1, 1, 2, 4))):
                data = mutate_bytes(rng, data, self.tokens)
            return data
        return splice(rng, self.seeds[k], rng.choice(self.seeds))


class ByteMutator:
    """Inputs made from seeds by byte edits only; ``extra`` (optional) adds format-aware edits."""

    def __init__(self, seeds: list[bytes], tokens: list[bytes] | None = None,
                 extra: Callable[[random.Random, bytes], bytes] | None = None) -> None:
        self.seeds = seeds
        self.tokens = tokens
        self.extra = extra

    def __call__(self, rng: random.Random) -> bytes:
        data = rng.choice(self.seeds)
        if rng.random() < 0.03:
            return data
        for _ in range(rng.choice((1, 1, 2, 3))):
            if self.extra is not None and rng.random() < 0.5:
                data = self.extra(rng, data)
            else:
                data = mutate_bytes(rng, data, self.tokens)
        if rng.random() < 0.05:
            data = splice(rng, data, rng.choice(self.seeds))
        return data
