"""The market data processor on the real stack: the 500,000 real ES trades against bars computed
independently with pandas, roll-ups, a shuffled replay, the bad-input corpus, revisions and LATE, and the
conservation law (every input in exactly one bar's trade_count, md.dlq, or md.quotes)."""
from __future__ import annotations

import base64
import json
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from connectors.csv_trades import CsvTradeNormalizer, CsvTradeSource
from connectors.es_sample import ROWS, es_sample_csv
from tests.integration.job_cli import run_job
from tests.integration.kafka_tools import publish, reset_topics
from tickflow.runtime.kafka_reading import read_to_end

TOPICS = ["md.raw.trades", "md.raw.quotes", "md.bars", "md.bars.live", "md.dlq", "md.quotes"]
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_input.jsonl"
MINUTE = 60_000_000_000


def run_processor(*args: str, timeout: float = 900) -> None:
    run_job("market_data_processor", *args, timeout=timeout)


def corpus_messages() -> tuple[list[dict], list[tuple[str, bytes, bytes]]]:
    """The bad-input corpus and its messages (topic, key, bytes), keyed by the symbol when one is readable."""
    corpus = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    messages = []
    for c in corpus:
        payload = base64.b64decode(c["payload_b64"]) if "payload_b64" in c else c["payload"].encode()
        try:
            key = json.loads(payload)["symbol"].encode()
        except Exception:
            key = b"corpus"
        messages.append((c["topic"], key, payload))
    return corpus, messages


def es_messages(settings) -> list[tuple[int, bytes]]:
    """(ts_event, canonical JSON) of the ES sample, as the replay publishes it."""
    n = CsvTradeNormalizer(CsvTradeSource())
    with open(es_sample_csv(settings.cache_dir)) as f:
        next(f)
        return [n.normalize(line) for line in f]


def final_bars(settings, topic: str = "md.bars") -> dict[tuple[str, str, int], dict]:
    """The bars on ``topic`` read as a consumer would: the highest revision per key."""
    out: dict[tuple[str, str, int], dict] = {}
    for rec in read_to_end(settings.kafka_bootstrap, topic):
        v = json.loads(rec.value)
        key = (v["symbol"], v["timeframe"], v["bucket_start"])
        assert rec.key.decode() == f"{v['symbol']}|{v['timeframe']}|{v['bucket_start']}"
        if key not in out or v["revision"] > out[key]["revision"]:
            out[key] = v
    return out


def dlq_by_origin(settings) -> dict[tuple[str, int, int], dict]:
    out = {}
    for rec in read_to_end(settings.kafka_bootstrap, "md.dlq"):
        v = json.loads(rec.value)
        where = (v["topic"], v["partition"], v["offset"])
        assert where not in out, f"two DLQ records for {where}"
        out[where] = v
    return out


def pandas_minute_bars(settings) -> dict[int, tuple]:
    """1m bars from the source CSV, computed independently of tickflow's code paths."""
    df = pd.read_csv(es_sample_csv(settings.cache_dir), dtype=str)
    local = pd.to_datetime(df["DateTime"]).dt.tz_localize("America/Chicago")
    df["ts"] = local.dt.tz_convert("UTC").astype("int64")
    df["seq"] = range(1, len(df) + 1)
    df["price"] = df["Price"].map(Decimal)
    df["size"] = df["Volume"].map(Decimal)
    df["notional"] = df["price"] * df["size"]
    df["minute"] = df["ts"] // MINUTE * MINUTE
    df = df.sort_values(["ts", "seq"])
    bars = {}
    for minute, g in df.groupby("minute", sort=True):
        volume = g["size"].sum()
        bars[minute] = (g["price"].iloc[0], g["price"].max(), g["price"].min(), g["price"].iloc[-1], volume,
                        (g["notional"].sum() / volume).quantize(Decimal("1e-9")), len(g))
    return bars


def as_tuple(bar: dict) -> tuple:
    return (Decimal(bar["open"]), Decimal(bar["high"]), Decimal(bar["low"]), Decimal(bar["close"]),
            Decimal(bar["volume"]), Decimal(bar["vwap"]), bar["trade_count"])


def roll_up(minutes: list[dict]) -> tuple:
    minutes = sorted(minutes, key=lambda b: b["bucket_start"])
    volume = sum(Decimal(b["volume"]) for b in minutes)
    return (Decimal(minutes[0]["open"]), max(Decimal(b["high"]) for b in minutes),
            min(Decimal(b["low"]) for b in minutes), Decimal(minutes[-1]["close"]), volume,
            sum(b["trade_count"] for b in minutes))


# --- run A: the ES sample in file order -----------------------------------------------------------------

@pytest.fixture(scope="module")
def es_in_order(running_stack):
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    publish(s.kafka_bootstrap, [("md.raw.trades", b"ES", v) for _, v in es_messages(s)])
    run_processor()
    return final_bars(s), dlq_by_origin(s)


def test_every_1m_bar_equals_pandas_field_by_field(running_stack, es_in_order):
    bars, _ = es_in_order
    expected = pandas_minute_bars(running_stack)
    got = {k[2]: as_tuple(v) for k, v in bars.items() if k[1] == "1m"}
    assert len(expected) == 2264
    assert sorted(got) == sorted(expected)
    mismatched = [(m, expected[m], got[m]) for m in expected if got[m] != expected[m]]
    assert not mismatched, mismatched[:3]
    assert all(v["revision"] == 0 and v["sources"] == ["replay"] for v in bars.values())


def test_higher_timeframes_are_the_roll_up_of_their_1m_bars(running_stack, es_in_order):
    bars, _ = es_in_order
    minutes = [v for k, v in bars.items() if k[1] == "1m"]
    for tf in ("5m", "15m", "1h", "1d"):
        higher = [v for k, v in bars.items() if k[1] == tf]
        assert higher, tf
        for bar in higher:
            inside = [m for m in minutes if bar["bucket_start"] <= m["bucket_start"] < bar["bucket_end"]]
            assert as_tuple(bar)[:5] + (bar["trade_count"],) == roll_up(inside), (tf, bar["bucket_start"])
    assert sum(v["trade_count"] for k, v in bars.items() if k[1] == "1d") == ROWS


def test_daily_bars_follow_cme_sessions(es_in_order):
    bars, _ = es_in_order
    days = sorted((k[2], v["bucket_end"]) for k, v in bars.items() if k[1] == "1d")
    # Sunday 17:00 CDT → Labor Day's early close 12:00 CDT; Monday 17:00 CDT → Tuesday 17:00 CDT
    assert days == [(1378072800 * 10**9, 1378141200 * 10**9), (1378159200 * 10**9, 1378245600 * 10**9)]


def test_conservation_in_order_every_trade_is_in_exactly_one_bar(es_in_order):
    bars, dlq = es_in_order
    assert sum(v["trade_count"] for k, v in bars.items() if k[1] == "1m") == ROWS
    assert dlq == {}


# --- run B: the ES sample shuffled within the lateness, with the bad-input corpus after it --------------

@pytest.fixture(scope="module")
def shuffled_with_corpus(running_stack, es_in_order):
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    rnd = random.Random(20130901)
    es = es_messages(s)
    # every trade moves by at most 30 s of event time: later than the 2 s bound, inside the 60 s lateness
    order = sorted(range(len(es)), key=lambda i: es[i][0] + rnd.randrange(30_000_000_000))
    corpus, bad = corpus_messages()
    messages = [("md.raw.trades", b"ES", es[i][1]) for i in order] + bad
    where = publish(s.kafka_bootstrap, messages)
    run_processor()
    return corpus, where[len(order):], final_bars(s), dlq_by_origin(s)


def test_shuffled_replay_within_lateness_gives_identical_final_bars(es_in_order, shuffled_with_corpus):
    in_order, _ = es_in_order
    _, _, shuffled, _ = shuffled_with_corpus
    es_shuffled = {k: as_tuple(v) for k, v in shuffled.items() if k[0] == "ES"}
    assert es_shuffled == {k: as_tuple(v) for k, v in in_order.items()}


def test_the_live_topic_ends_with_the_committed_bars(running_stack, shuffled_with_corpus):
    _, _, committed, _ = shuffled_with_corpus
    assert final_bars(running_stack, "md.bars.live") == committed


def test_every_corpus_record_lands_with_its_reason(running_stack, shuffled_with_corpus):
    corpus, where, _, dlq = shuffled_with_corpus
    wrong = []
    for c, origin in zip(corpus, where):
        got = dlq.get(origin)
        if (got["reason"] if got else None) != c["expect"]:
            wrong.append((c["note"], c["expect"], got and got["reason"], got and got["detail"]))
        if got:
            payload = base64.b64decode(c["payload_b64"]) if "payload_b64" in c else c["payload"].encode()
            assert base64.b64decode(got["original"]) == payload
            assert got["detail"] and got["component"] == "market_data_processor"
    assert not wrong, wrong


def test_valid_quotes_reach_md_quotes(running_stack, shuffled_with_corpus):
    corpus, _, _, _ = shuffled_with_corpus
    quotes = [json.loads(r.value) for r in read_to_end(running_stack.kafka_bootstrap, "md.quotes")]
    expected = sum(1 for c in corpus if c["topic"] == "md.raw.quotes" and c["expect"] is None)
    assert len(quotes) == expected and quotes[0]["bid"] == "10.400000000"


def test_conservation_with_shuffle_and_garbage(shuffled_with_corpus):
    corpus, where, bars, dlq = shuffled_with_corpus
    trades_in = ROWS + sum(1 for c in corpus if c["topic"] == "md.raw.trades")
    in_bars = sum(v["trade_count"] for k, v in bars.items() if k[1] == "1m")
    trade_rejects = sum(1 for origin in dlq if origin[0] == "md.raw.trades")
    assert in_bars + trade_rejects == trades_in
    reasons = Counter(v["reason"] for v in dlq.values())
    # the shuffle stays inside the allowed lateness: its late trades revise bars, none is LATE; the one
    # LATE is the corpus trade two days behind the stream
    assert reasons["LATE"] == sum(1 for c in corpus if c["expect"] == "LATE") == 1
    assert any(v["revision"] > 0 for v in bars.values()), "late trades inside the lateness must revise bars"
