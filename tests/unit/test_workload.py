"""The benchmarks' and tests' workload (tickflow_testkit/workload.py): deterministic bytes, rounds that move
event time forward with seq and ids unique per series, rejects of every kind with the reason each must get,
and the streaming, tally, JSON Lines forms agreeing with the list form. Over a small synthetic ES-like CSV,
so it needs no download."""
from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.replay import ReplayResult, jsonl_trades
from tickflow_testkit import workload as wl

HOUR_NS = 3_600_000_000_000


def synthetic_csv(path: Path, n: int = 5000) -> Path:
    """ES-like rows (local Chicago time, quarter-point prices, many trades sharing a millisecond)."""
    rnd = random.Random(1)
    t = datetime(2013, 9, 1, 17, 0, 0)
    price = 6560
    lines = ["DateTime,Price,Volume"]
    for _ in range(n):
        t += timedelta(milliseconds=rnd.choice((0, 0, 0, 1, 3, 40, 900)))
        price += rnd.choice((-1, 0, 0, 1))
        lines.append(f"{t:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f",{price / 4:g},{rnd.randrange(1, 20)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def digest(messages) -> str:
    h = hashlib.sha256()
    for m in messages:
        h.update(m.key + b"\0" + m.value + b"\0" + (m.expect or "").encode() + b"\n")
    return h.hexdigest()


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    return synthetic_csv(tmp_path_factory.mktemp("workload") / "es.csv")


def valid(messages):
    return [(m, json.loads(m.value)) for m in messages if m.expect is None]


@pytest.mark.parametrize("spec, count, expected", [
    # the bytes of the workload before rounds and the streaming form existed: one round is unchanged
    (wl.WorkloadSpec(symbols=24, reject_share=0.05), 5241,
     "3c580014e520a261d32e7760b987537f66b3520744a8f13461371715b7fd4aec"),
    (wl.WorkloadSpec(symbols=200), 5000, "01d5ec04306e7b7675c97e244be66c9909d41d8fdca04f8d15d5c9a981f188df"),
])
def test_one_round_gives_the_same_bytes_as_before(csv, spec, count, expected):
    messages = wl.build(spec, csv).messages
    assert len(messages) == count
    assert digest(messages) == expected


def test_same_spec_same_bytes_and_stream_equals_build(csv):
    spec = wl.WorkloadSpec(symbols=50, reject_share=0.04, rounds=3)
    once = wl.build(spec, csv).messages
    assert digest(once) == digest(wl.build(spec, csv).messages)
    assert digest(wl.stream(spec, csv)) == digest(once)
    assert digest(wl.build(wl.WorkloadSpec(symbols=50, reject_share=0.04, rounds=3, seed=8), csv).messages) \
        != digest(once)


def test_rounds_move_event_time_forward_by_whole_days(csv):
    spec = wl.WorkloadSpec(symbols=30, rounds=3)
    rows = list(wl.es_rows(csv))
    trades = valid(wl.stream(spec, csv))
    assert len(trades) == 3 * len(rows)
    rounds = [trades[r * len(rows):(r + 1) * len(rows)] for r in range(3)]
    spans = [(min(v["ts_event"] for _, v in rnd), max(v["ts_event"] for _, v in rnd)) for rnd in rounds]
    shift = wl.round_shift_ns(rows)
    assert shift % wl.DAY_NS == 0 and shift > spans[0][1] - spans[0][0]
    for (lo, hi), (next_lo, _) in zip(spans, spans[1:]):
        assert next_lo > hi
        assert next_lo - lo == shift
    # the same ES trade in every round: the same price and size, later by the shift
    for r in (1, 2):
        assert [v["size"] for _, v in rounds[r]] == [v["size"] for _, v in rounds[0]]


def test_seq_and_ids_unique_and_increasing_per_series_across_rounds(csv):
    spec = wl.WorkloadSpec(symbols=40, reject_share=0.03, rounds=3)
    last_seq: dict[tuple[str, str], int] = {}
    ids: set[tuple[str, str, str]] = set()
    with_ids = 0
    for _, v in valid(wl.stream(spec, csv)):
        series = (v["source"], v["symbol"])
        # increasing per series, carried across rounds (a LATE reject takes a number of its own, so gaps)
        assert v["seq"] > last_seq.get(series, 0)
        last_seq[series] = v["seq"]
        if v["trade_id"] is not None:
            with_ids += 1
            key = (v["source"], v["symbol"], v["trade_id"])
            assert key not in ids
            ids.add(key)
    assert with_ids > 0
    assert sum(last_seq.values()) > 2 * 5000   # the last round's numbers follow the first's


def test_rejects_of_every_kind_with_their_reason(csv):
    spec = wl.WorkloadSpec(symbols=30, reject_share=0.05, rounds=2)
    messages = wl.build(spec, csv).messages
    kinds = Counter(m.expect for m in messages if m.expect)
    assert set(kinds) == set(wl.REJECT_KINDS)
    trades = sum(1 for m in messages if m.expect is None)
    # rejects only after the first tenth: about 5% of the other nine tenths
    assert 0.035 < sum(kinds.values()) / trades < 0.06
    seen_values: set[bytes] = set()
    last_ts = None
    for m in messages:
        if m.expect is None:
            seen_values.add(m.value)
            last_ts = json.loads(m.value)["ts_event"]
            continue
        if m.expect == "MALFORMED":
            with pytest.raises(ValueError):
                json.loads(m.value)
            continue
        v = json.loads(m.value)
        if m.expect == "MISSING_FIELD":
            assert "price" not in v
        elif m.expect == "NON_POSITIVE_PRICE":
            assert float(v["price"]) <= 0
        elif m.expect == "NEGATIVE_SIZE":
            assert float(v["size"]) < 0
        elif m.expect == "NON_POSITIVE_SIZE":
            assert float(v["size"]) == 0
        elif m.expect == "FUTURE_TIMESTAMP":
            assert v["ts_event"] >= wl.FAR_FUTURE_NS
        elif m.expect == "OUTLIER":
            assert v["symbol"] == "ES" and v["price"] == "1"
        elif m.expect == "DUPLICATE":
            assert m.value in seen_values   # an exact re-send of a recent valid trade
        elif m.expect == "LATE":
            assert v["ts_event"] == last_ts - 48 * HOUR_NS
    # no LATE before half of the stream, no reject in its first tenth
    first_reject = next(i for i, m in enumerate(messages) if m.expect)
    assert first_reject >= 0.1 * trades
    first_late = next(i for i, m in enumerate(messages) if m.expect == "LATE")
    assert first_late >= 0.5 * trades


def test_tally_counts_what_the_list_form_says(csv):
    spec = wl.WorkloadSpec(symbols=25, reject_share=0.05, rounds=2)
    w = wl.build(spec, csv)
    tally = wl.Tally()
    assert sum(1 for _ in wl.stream(spec, csv, tally)) == len(w.messages)
    assert tally.valid_per_symbol == w.valid_per_symbol()
    assert tally.reasons == w.expected_reasons()
    buckets = {(v["symbol"], v["ts_event"] // 60_000_000_000 * 60_000_000_000) for _, v in valid(w.messages)}
    assert tally.minute_bars == buckets
    summary = tally.summary()
    assert summary["valid"] == sum(w.valid_per_symbol().values())
    assert summary["symbols"] == len(w.valid_per_symbol())


def test_zipf_makes_a_few_symbols_hot(csv):
    counts = sorted(wl.build(wl.WorkloadSpec(symbols=100), csv).valid_per_symbol().values(), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]


def test_encoder_writes_the_bytes_json_dumps_would(csv):
    for inst in wl.instruments(wl.WorkloadSpec(symbols=12)):
        enc = wl._Encoder(inst)
        for seq, with_id in ((1, False), (123456, True)):
            expected = wl._dump(wl._record(inst, 1_378_072_800_083_000_000, 1_378_072_800_090_000_000, seq,
                                           wl._price("1640.25", inst), "8", f"T{seq}" if with_id else None))
            assert enc.encode(1_378_072_800_083_000_000, 1_378_072_800_090_000_000, seq, "1640.25", "8",
                              with_id) == expected


def test_json_lines_file_replays_its_valid_trades(csv, tmp_path):
    spec = wl.WorkloadSpec(symbols=10, reject_share=0.05, limit=2000)
    path = tmp_path / "w.jsonl"
    messages = wl.build(spec, csv).messages
    assert wl.write_jsonl(messages, path) == len(messages)
    assert path.read_bytes().count(b"\n") == len(messages)
    assert wl.write_jsonl(messages, tmp_path / "v.jsonl", valid_only=True) == sum(1 for m in messages
                                                                                  if m.expect is None)
    result = ReplayResult()
    with open(tmp_path / "v.jsonl", "rb") as lines:
        replayed = list(jsonl_trades(lines, result))
    assert result.skipped == 0
    assert [(k, json.loads(v)) for _, k, v in replayed] == [(m.key, json.loads(m.value)) for m in messages
                                                            if m.expect is None]
