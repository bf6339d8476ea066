"""The indicators job's JVM step (jobs/jvm ``io.tickflow.indicators``, run over recorded records by
``IndicatorReplay``) against its Python reference (``jobs.indicators.ReferenceStep`` over
jobs/indicator_series.py and jobs/indicator_math.py, which the TA-Lib tests check): the same md.bars records
in, the same records out. md.indicators records are compared byte for byte; md.dlq records field for field
(``seen_at`` fixed), the ``detail`` too except for MALFORMED and BAD_TYPE, whose wording names Python's or
Jackson's own parse errors."""
from __future__ import annotations

import base64
import json
import random
import struct
import subprocess
from dataclasses import replace
from decimal import Decimal

import pytest
from bokeh_sampledata.stocks import AAPL

from jobs import validation
from jobs.indicators import IndicatorOptions, ReferenceStep, calendar_specs
from tests.unit.fuzz.mutate import JsonMutator
from tests.unit.fuzz.targets import bar_seeds
from tickflow import setup_deps
from tickflow.runtime import config

M = 60 * 10**9
NOW = 1_700_000_000_123_456_789
SESSION_START = 1378072800 * 10**9  # 2013-09-01 17:00 CDT, a CME Globex session's open


@pytest.fixture(scope="module")
def jar():
    # make setup installs Java and Maven; without them build_udfs fails in one line, as the test should
    s = config.load()
    setup_deps.build_udfs(s)
    return setup_deps.udf_jar(s)


@pytest.fixture(scope="module")
def calendars():
    rules = validation.load_rules()
    cals = {sym: rules.symbol_calendar(sym) for sym in rules.symbol_venues}
    cals["AAPL"] = "XNYS"
    return cals


def jvm(jar, records: list, calendars: dict, tmp_path, keep: int = 16) -> list[tuple[str, bytes, bytes]]:
    spec, symbols = calendar_specs(calendars)
    spec_file = tmp_path / "calendars.txt"
    spec_file.write_text(spec)
    lines = []
    for r in records:
        if r[0] == "set":
            lines.append(f"set {r[1]}")
            continue
        k, v, partition, offset = r
        lines.append("\t".join([base64.b64encode(k).decode() if k is not None else "-",
                                base64.b64encode(v).decode() if v is not None else "-", str(partition), str(offset)]))
    out = subprocess.run(["java", "-cp", str(jar), "io.tickflow.indicators.IndicatorReplay", "--keep", str(keep),
                          "--now-ns", str(NOW), "--calendars", str(spec_file), "--symbol-calendars", symbols],
                         input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return [(kind, base64.b64decode(k), base64.b64decode(v))
            for kind, k, v in (line.split("\t") for line in out.stdout.splitlines())]


def python(records: list, calendars: dict, keep: int = 16) -> list[tuple[str, bytes, bytes]]:
    step = ReferenceStep(IndicatorOptions(keep_bars=keep), calendars)
    out = []
    for r in records:
        if r[0] == "set":
            step.o = replace(step.o, indicator_set=r[1])
            continue
        out += step.apply(*r, now_ns=NOW)
    return out


def assert_same(got: list, expected: list) -> None:
    assert len(got) == len(expected), (len(got), len(expected))
    for i, ((kind, k, v), (ekind, ek, ev)) in enumerate(zip(got, expected)):
        assert (kind, k) == (ekind, ek), (i, kind, k, ekind, ek)
        if kind == "indicators":
            assert v == ev, (i, v, ev)
        else:
            d, e = json.loads(v), json.loads(ev)
            if e["reason"] in ("MALFORMED", "BAD_TYPE"):
                d.pop("detail"), e.pop("detail")
            assert d == e, (i, d, e)


def message(bar: dict, offset: int) -> tuple:
    key = f"{bar['symbol']}|{bar['timeframe']}|{bar['bucket_start']}".encode()
    return key, json.dumps(bar).encode(), offset % 4, offset


def walk(n: int, seed: int, start: float, tick: Decimal) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    """OHLC of n bars: a random walk in ticks, some bars flat."""
    rnd = random.Random(seed)
    price, out = Decimal(str(start)), []
    for _ in range(n):
        o = price
        c = o + tick * rnd.randint(-4, 4)
        h = max(o, c) + tick * rnd.choice((0, 0, 1, 3))
        l = min(o, c) - tick * rnd.choice((0, 0, 1, 2))
        out.append((o, h, l, c))
        price = c
    return out


def bar(symbol: str, timeframe: str, start: int, length: int, ohlc, volume: int, revision: int = 0) -> dict:
    o, h, l, c = ohlc
    return {"symbol": symbol, "timeframe": timeframe, "bucket_start": start, "bucket_end": start + length,
            "open": str(o), "high": str(h), "low": str(l), "close": str(c), "volume": str(volume),
            "vwap": str(((h + l + c) / 3).quantize(Decimal("1e-9"))), "trade_count": 7, "revision": revision,
            "sources": ["replay"], "pipeline_version": "mdp-1"}


def es_sequence() -> list:
    """ES 1m and 5m bars over CME sessions (the VWAP's day changes at 16:00 CT) with every kind of
    revision, late bar, repeat and bad record among them, and AAPL 1d bars and 1h bars of NYSE days."""
    records: list = []
    offset = 0

    def add(payload, key=None, raw=False):
        nonlocal offset
        offset += 1
        if raw:
            records.append((key, payload, offset % 4, offset))
        else:
            records.append(message(payload, offset))

    minutes = walk(1500, 1, 1640.25, Decimal("0.25"))
    start = SESSION_START + 20 * 60 * M  # 1,500 minutes from here cross the 16:00 CT close and the next open
    sent: dict[int, dict] = {}
    held_back = {37, 502, 1201}
    rnd = random.Random(7)
    for i, ohlc in enumerate(minutes):
        b = bar("ES", "1m", start + i * M, M, ohlc, 10 + i % 17)
        if i in held_back:
            continue
        add(b)
        sent[i] = b
        if i - 2 in held_back:                 # a late new minute, two minutes later
            add(bar("ES", "1m", start + (i - 2) * M, M, minutes[i - 2], 5))
        if i % 5 == 4:                          # the 5m bar of the last five minutes
            chunk = minutes[i - 4:i + 1]
            five = (chunk[0][0], max(x[1] for x in chunk), min(x[2] for x in chunk), chunk[-1][3])
            add(bar("ES", "5m", start + (i - 4) * M, 5 * M, five, 60))
        if i % 97 == 0 and i > 0:               # the newest bar revised
            add({**b, "close": b["high"], "revision": 1})
        if i % 131 == 0 and i > 10:             # a bar a few minutes back revised twice
            back = sent.get(i - rnd.randint(1, 6))
            if back:
                add({**back, "low": str(Decimal(back["low"]) - 1), "revision": 1})
                add({**back, "low": str(Decimal(back["low"]) - 2), "revision": 2})
        if i % 151 == 0 and i > 0:              # a repeat, an older revision, a bar older than the kept ones
            add(dict(b))
            add({**sent[i - 1], "revision": 0})
            if i > 100:
                add({**sent[i - 90], "revision": 5})
        if i % 173 == 0:                        # records that are no bar of the series
            for bad in bad_records(b):
                add(*bad, raw=True) if isinstance(bad, tuple) else add(bad)
    for i, (o, h, l, c, v, ts) in enumerate(zip(AAPL["open"], AAPL["high"], AAPL["low"], AAPL["close"],
                                                 AAPL["volume"], AAPL["date"])):
        if i >= 700:
            break
        day = int(__import__("datetime").datetime.fromisoformat(ts).timestamp()) * 10**9
        add(bar("AAPL", "1d", day, 86400 * 10**9, tuple(Decimal(str(x)) for x in (o, h, l, c)), int(v)))
        if i % 10 == 3:  # seven 1h bars of the day at 13:30 UTC on
            for j, ohlc in enumerate(walk(7, i, o, Decimal("0.01"))):
                add(bar("AAPL", "1h", day + (13 * 60 + 30 + 60 * j) * M, 60 * M, ohlc, 1000))
    return records


def bad_records(b: dict) -> list:
    key = f"ES|1m|{b['bucket_start']}".encode()
    return [
        {**b, "high": b["low"], "close": str(Decimal(b["low"]) + 1)},               # OHLC_VIOLATION
        {**b, "volume": "-3"},                                                     # OHLC_VIOLATION
        {**b, "close": "1e5"}, {**b, "close": 1640.5}, {**b, "open": None},        # BAD_TYPE, taken, BAD_TYPE
        {k: v for k, v in b.items() if k != "vwap"}, {**b, "revision": -1},        # BAD_TYPE
        {**b, "bucket_end": b["bucket_start"]}, {**b, "revision": True},           # BAD_TYPE
        {**b, "open": "1" + "0" * 18}, {**b, "close": "NaN"},                      # BAD_TYPE
        (key, b"{not json", ), (key, None), (None, json.dumps(b).encode()),        # MALFORMED
        (b"ES|1m", json.dumps(b).encode()), (b"\xff|1m|1", json.dumps(b).encode()),
        (key, json.dumps([b]).encode()), (key, json.dumps({**b, "symbol": "NQ"}).encode()),
        (key, json.dumps(b).encode() + b" x"), (key, json.dumps(b).encode("utf-16")),
        (key, b'{"symbol":"ES","timeframe":"1m","x":NaN}'), (key, b'{"a":-Infinity,' + json.dumps(b).encode()[1:]),
    ]


@pytest.mark.parametrize("sets", [(1,), (2,), (1, 2)], ids=["set 1", "set 2", "set 1 then 2"])
def test_the_jvm_step_writes_what_the_python_reference_writes(jar, calendars, tmp_path, sets):
    records = es_sequence()
    records = [("set", sets[0])] + records
    if len(sets) == 2:
        records.insert(len(records) // 2, ("set", sets[1]))
    expected = python(records, calendars)
    assert sum(kind == "dlq" for kind, _, _ in expected) > 100
    assert len({json.loads(v)["reason"] for kind, _, v in expected if kind == "dlq"}) == 5
    assert_same(jvm(jar, records, calendars, tmp_path), expected)


def test_a_short_history_refuses_and_replays_alike(jar, calendars, tmp_path):
    records = [("set", 2)] + [message(bar("ES", "1m", SESSION_START + i * M, M, ohlc, 3), i)
                              for i, ohlc in enumerate(walk(60, 3, 1640.0, Decimal("0.25")))]
    records.append(message({**json.loads(records[50][1]), "revision": 1, "close": "1600", "low": "1600"}, 61))
    records.append(message(json.loads(records[20][1]), 62))  # older than the 4 to 8 kept: OUT_OF_ORDER
    expected = python(records, calendars, keep=4)
    assert json.loads(expected[-1][2])["reason"] == "OUT_OF_ORDER"
    assert_same(jvm(jar, records, calendars, tmp_path, keep=4), expected)


def _depth(data: bytes) -> int:
    depth = deepest = 0
    for c in data:
        depth += (c in b"[{") - (c in b"]}")
        deepest = max(deepest, depth)
    return deepest


def test_mutated_bar_records_are_refused_or_applied_alike(jar, calendars, tmp_path):
    """3,000 records from the fuzzers' mutator on top of a warm series. Nesting past 500 levels is left out:
    Python's limit there is its recursion depth, which depends on the caller's stack."""
    warm = [message(bar("ES", "1m", 1378072800000000000 - (40 - i) * M, M, ohlc, 100), i)
            for i, ohlc in enumerate(walk(40, 5, 1640.0, Decimal("0.25")))]
    mutate, rng = JsonMutator(bar_seeds()), random.Random(20)
    records: list = [("set", 2)] + warm
    while len(records) < 3040:
        data = mutate(rng)
        if _depth(data) <= 500:
            records.append((b"ES|1m|1378072800000000000", data, 0, len(records)))
    expected = python(records, calendars)
    assert {json.loads(v)["reason"] for kind, _, v in expected if kind == "dlq"} >= {"MALFORMED", "BAD_TYPE",
                                                                                     "OHLC_VIOLATION", "DUPLICATE"}
    assert_same(jvm(jar, records, calendars, tmp_path), expected)


def test_floats_are_written_as_python_writes_them(jar, tmp_path):
    rng = random.Random(3)
    values = [rng.uniform(-2000, 2000) for _ in range(3000)] + [rng.random() * 10.0 ** rng.randint(-30, 30)
                                                                for _ in range(3000)]
    values += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(3000)]
    values += [5e-324 * k for k in range(1, 300)] + [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(52)))[0]
                                                     for _ in range(1000)]  # subnormals
    values += [0.0, -0.0, 1e16, 1e15, 1e-4, 1e-5, 0.1, 1640.25, 5e-324, 1.7976931348623157e308, 123456789012345678.0]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    bits = "\n".join(f"{struct.unpack('<Q', struct.pack('<d', v))[0]:016x}" for v in values)
    out = subprocess.run(["java", "-cp", str(jar), "io.tickflow.indicators.IndicatorReplay", "--repr"],
                         input=bits + "\n", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == [repr(v) for v in values]
