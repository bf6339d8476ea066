"""Position recovery, the pure part: records of md.raw.trades in, positions out.

Kafka is not needed: ``TailScan`` is fed the chunks ``recover_positions`` would read. The record reader
is fuzzed (the topic is outside input), and every input a fuzzer found is replayed from
tests/corpus/published_trades.jsonl.
"""
from __future__ import annotations

import base64
import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.position_recovery import PublishedTrade, TailScan, read_published_trade
from connectors.raw_contract import RawTrade, is_decimal_text

CORPUS = Path(__file__).parents[1] / "corpus" / "published_trades.jsonl"
T0 = 1_378_130_400_000_000_000


def rec(source: str, symbol: str, ms: int, price: str = "1650.25", size: str = "1") -> bytes:
    return RawTrade(source, symbol, "XCME", T0 + ms * 1_000_000, T0, ms, price, size).to_json()


def scan_of(partitions: dict[int, list[bytes]], sources=("polygon", "finnhub"), symbols=("ES", "NQ")) -> TailScan:
    scan = TailScan(set(sources), set(symbols))
    for p, values in partitions.items():
        scan.add_older(p, values, reached_start=True)
    return scan


def test_a_canonical_trade_is_read_and_anything_else_is_not():
    assert read_published_trade(rec("polygon", "ES", 5, "1650.5", "3")) == PublishedTrade(
        "polygon", "ES", T0 + 5_000_000, "1650.5", "3")
    for bad in [b"", b"null", b"[]", b'{"source":"polygon"}', b"\xff\xfe", rec("polygon", "ES", 1, "1e3"),
                rec("polygon", "ES", 1).replace(b'"ts_event":', b'"ts_event":true,"x":'),
                b'{"source":"p","symbol":"ES","ts_event":1.5,"price":"1","size":"1"}']:
        assert read_published_trade(bad) is None, bad


def test_the_position_is_the_last_instant_with_every_trade_published_at_it():
    scan = scan_of({0: [rec("polygon", "ES", 1), rec("polygon", "ES", 2, "1650.5"), rec("polygon", "ES", 2),
                        rec("polygon", "ES", 2), rec("replay", "ES", 9), rec("polygon", "CL", 9), b"garbage"]})
    pos = scan.positions()
    assert set(pos) == {"ES"}
    assert pos["ES"].ts == T0 + 2_000_000
    assert pos["ES"].at_ts == Counter({("1650.5", "1"): 1, ("1650.25", "1"): 2})
    assert scan.read == 7 and scan.skipped == 3 and not scan.unsettled() - {"NQ"}


def test_the_feeds_of_a_failover_share_one_position():
    scan = scan_of({0: [rec("polygon", "ES", 4, "1"), rec("polygon", "ES", 5, "2"), rec("finnhub", "ES", 5, "3")],
                    1: [rec("finnhub", "NQ", 7)]})
    assert scan.positions()["ES"].at_ts == Counter({("2", "1"): 1, ("3", "1"): 1})
    assert scan.sources_at("ES") == {"polygon", "finnhub"}
    assert scan.positions()["NQ"].ts == T0 + 7_000_000


def test_an_instant_that_may_begin_before_the_window_is_read_further_back():
    scan = TailScan({"polygon"}, {"ES"})
    scan.add_older(0, [rec("polygon", "ES", 8), rec("polygon", "ES", 8)], reached_start=False)
    assert scan.unsettled() == {"ES"}
    scan.add_older(0, [rec("polygon", "ES", 8)], reached_start=False)
    assert scan.unsettled() == {"ES"}
    scan.add_older(0, [rec("polygon", "ES", 7), rec("polygon", "ES", 8)], reached_start=False)
    assert scan.unsettled() == set() and scan.positions()["ES"].published_at_ts() == 4


def test_a_missing_symbol_is_looked_for_until_every_partition_is_read_whole():
    scan = TailScan({"polygon"}, {"ES", "NQ"})
    scan.add_older(0, [rec("polygon", "ES", 1), rec("polygon", "ES", 2)], reached_start=False)
    scan.add_older(1, [rec("polygon", "CL", 1)], reached_start=True)
    assert scan.unsettled() == {"NQ"}
    scan.add_older(0, [], reached_start=True)
    assert scan.unsettled() == set() and "NQ" not in scan.positions()


@st.composite
def logs(draw):
    """Partitions of a raw-trades topic: this service's feeds in time order per symbol, each symbol in its
    partition (records are keyed by symbol), mixed with other sources, other symbols and bytes that are
    not trades."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    parts = {p: [] for p in range(draw(st.integers(1, 3)))}
    clock = {s: 0 for s in ("ES", "NQ")}
    home = {s: rng.choice(list(parts)) for s in clock}
    for _ in range(draw(st.integers(0, 300))):
        p = rng.choice(list(parts))
        kind = rng.random()
        if kind < 0.1:
            parts[p].append(rng.choice([b"{", b"", b"\x00\xff", rec("replay", "ES", rng.randrange(500))]))
            continue
        symbol = rng.choice(["ES", "NQ", "CL"])
        p = home.get(symbol, p)
        if symbol in clock:
            clock[symbol] += rng.choice([0, 0, 0, 1, 2])  # many trades share an instant
            ms = clock[symbol]
        else:
            ms = rng.randrange(500)
        parts[p].append(rec(rng.choice(["polygon", "finnhub"]), symbol, ms, rng.choice(["1", "2"]),
                            rng.choice(["1", "5"])))
    return parts, rng.randrange(1, 40)


def model(parts: dict[int, list[bytes]]) -> dict[str, tuple[int, Counter]]:
    out: dict[str, tuple[int, Counter]] = {}
    for values in parts.values():
        for v in values:
            t = read_published_trade(v)
            if t is None or t.source not in ("polygon", "finnhub") or t.symbol not in ("ES", "NQ"):
                continue
            ts, at = out.get(t.symbol, (-1, Counter()))
            if t.ts_event > ts:
                ts, at = t.ts_event, Counter()
            if t.ts_event == ts:
                at[(t.price, t.size)] += 1
            out[t.symbol] = (ts, at)
    return out


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_reading_back_chunk_by_chunk_until_settled_gives_the_whole_log_positions(case):
    parts, step = case
    scan = TailScan({"polygon", "finnhub"}, {"ES", "NQ"})
    start = {p: len(v) for p, v in parts.items()}
    rounds = 0
    while True:
        for p, values in parts.items():
            lo = max(0, start[p] - step * 4 ** rounds)
            if lo < start[p] or (rounds == 0 and not values):
                scan.add_older(p, values[lo:start[p]], reached_start=lo == 0)
                start[p] = lo
        rounds += 1
        if not scan.unsettled() or all(s == 0 for s in start.values()):
            break
    got = {s: (p.ts, p.at_ts) for s, p in scan.positions().items()}
    assert got == model(parts)


# --- fuzzing the reader (the topic is outside input) ----------------------------------------------------
SEEDS = [rec("polygon", "ES", 3, "1650.25", "2"),
         RawTrade("polygon", "ES", "XCME", T0, T0, 7, "1650.5", "10", "4:17", ("12", "37")).to_json(),
         RawTrade("finnhub", "NQ", None, T0, T0, 8, "15000", "0.5").to_json()]
TOKENS = [b"[", b"]", b"{", b"}", b'"', b"\\", b"\\u0000", b"\\ud800", b",", b":", b"-", b".", b"e", b"1e999",
          b"NaN", b"Infinity", b"true", b"null", b"9" * 5000, b"\xef\xbb\xbf", b"\xc3", b"\x00", b" ",
          b'"ts_event":', b'"price":"1",', b"[" * 2000]


def check_reader(value: bytes) -> None:
    """Never raises, answers quickly, and accepts only what is a UTF-8 JSON object holding those fields."""
    started = time.perf_counter()
    got = read_published_trade(value)
    assert time.perf_counter() - started < 2.0, value[:80]  # a hang, not a slow machine
    if got is not None:
        doc = json.loads(value.decode("utf-8"))
        assert [doc["source"], doc["symbol"], doc["ts_event"], doc["price"], doc["size"]] == [
            got.source, got.symbol, got.ts_event, got.price, got.size]
        assert type(got.ts_event) is int and got.ts_event > 0
        assert is_decimal_text(got.price) and is_decimal_text(got.size)


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(5)
        i = rng.randint(0, len(out))
        if op == 0 and out:
            out[min(i, len(out) - 1)] = rng.randrange(256)
        elif op == 1:
            out[i:i] = rng.choice(TOKENS)
        elif op == 2:
            del out[i:i + rng.randint(1, 24)]
        elif op == 3 and out:
            j = rng.randint(0, len(out) - 1)
            out[i:i] = out[j:j + rng.randint(1, 40)]
        else:
            del out[i:]
    return bytes(out)


def test_fuzz_reader_on_100000_mutated_trades():
    """A seeded mutation loop (cheap enough for 100,000 inputs in CI); what it finds goes to the corpus."""
    rng = random.Random(18)
    found = []
    for n in range(100_000):
        value = mutate(rng, SEEDS[n % len(SEEDS)])
        try:
            check_reader(value)
        except (AssertionError, Exception) as exc:  # noqa: B014 - every failure is a finding
            found.append((value, repr(exc)[:200]))
    assert not found, found[:5]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=6)


@st.composite
def structural(draw):
    """A trade with fields replaced by any JSON value (arrays, objects, floats, huge numbers), or dropped."""
    doc = json.loads(SEEDS[draw(st.integers(0, len(SEEDS) - 1))])
    for key in draw(st.lists(st.sampled_from(sorted(doc)), max_size=3)):
        if draw(st.booleans()):
            doc[key] = draw(json_values)
        else:
            doc.pop(key, None)
    return json.dumps(doc).encode()


FUZZ = settings(max_examples=1000, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_reader_on_arbitrary_bytes(value):
    check_reader(value)


@settings(FUZZ, max_examples=300)
@given(structural())
def test_fuzz_reader_on_structural_variants(value):
    check_reader(value)


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", corpus(), ids=lambda c: c["note"][:60])
def test_corpus_of_published_trades(case):
    value = base64.b64decode(case["payload_b64"]) if "payload_b64" in case else case["payload"].encode()
    check_reader(value)
    got = read_published_trade(value)
    assert (None if got is None else [got.source, got.symbol, got.ts_event, got.price, got.size]) == case["expect"]
