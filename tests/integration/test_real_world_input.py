"""Real-world input on the real stack, at parallelism 2: 24 symbols from three sources whose sequence numbers
(and, on one source, trade ids) repeat across symbols, about 2% rejects of every kind, and the bad-input
corpus, flowing into a running processor. It keeps running; every valid trade of every symbol is in exactly
one 1m bar, every reject is in md.dlq once with its reason and its bytes, each key's bars are revisions 0,
1, … in order, and the storage writer archives each trade once and goes past what PostgreSQL could not
store."""
from __future__ import annotations

import base64
import json
import uuid
from collections import Counter, defaultdict

import psycopg2
import pytest

from connectors.es_sample import es_sample_csv
from tests.integration.job_cli import PRODUCT_IDLENESS, cli, run_job, unbounded_job
from tests.integration.kafka_tools import (
    committed_past,
    last_records,
    publish,
    reset_topics,
)
from tests.integration.test_market_data_processor import corpus_messages, dlq_by_origin
from tickflow.processes import StackError, wait_until
from tickflow.runtime.kafka_reading import read_to_end
from tickflow_testkit.workload import WorkloadSpec, build, closing_messages

TOPICS = ["md.raw.trades", "md.raw.quotes", "md.bars", "md.dlq", "md.quotes"]
SPEC = WorkloadSpec(symbols=24, reject_share=0.02, limit=60_000)
DAY_NS = 86_400_000_000_000
RATE = 5_000  # records/s, a busy live feed's pace (the run takes ~12 s of it)


def bar_records(s) -> dict[str, list[dict]]:
    by_key: dict[str, list[dict]] = defaultdict(list)
    for rec in read_to_end(s.kafka_bootstrap, "md.bars"):
        by_key[rec.key.decode()].append(json.loads(rec.value))
    return by_key


def minute_trades(by_key: dict[str, list[dict]]) -> Counter:
    out: Counter = Counter()
    for records in by_key.values():
        if records[-1]["timeframe"] == "1m":
            out[records[-1]["symbol"]] += records[-1]["trade_count"]
    return out


@pytest.fixture(scope="module")
def processed(running_stack):
    """A running processor reads the workload's first trades (so it is up), then the rest flows in
    at a live feed's pace, the closing trades and the corpus after it. Returns what each record must become,
    the valid trades per symbol, the LATE ones, and the archive's count of the corpus.

    The pace matters: every partition then sends records all the time, as in a live market. A backlog
    that a job starts on, or that comes all at once after every partition fell idle, is read partition by
    partition, and the first partition read moves event time so far that the others' trades turn LATE
    (docs/market_data_processor.md, "Bars")."""
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    w = build(SPEC, es_sample_csv(s.cache_dir))
    last_ts = max(json.loads(m.value)["ts_event"] for m in w.messages if m.expect is None)
    messages = w.messages + closing_messages(w, last_ts + 2 * DAY_NS)
    warm = 50  # the first seconds of trades: none of them can be late whichever partition is read first
    corpus, corpus_msgs = corpus_messages()
    valid = Counter(m.symbol for m in messages if m.expect is None)
    valid.update(json.loads(p)["symbol"] for c, (topic, _, p) in zip(corpus, corpus_msgs)
                 if c["expect"] is None and topic == "md.raw.trades")
    rejects = sum(1 for m in messages if m.expect) + sum(1 for c in corpus if c["expect"])
    group = f"real-world-{uuid.uuid4().hex[:8]}"
    with unbounded_job("market_data_processor", "--parallelism", "2", group_id=group, env=PRODUCT_IDLENESS):
        assert all(m.expect is None for m in messages[:warm])
        where = publish(s.kafka_bootstrap, [("md.raw.trades", m.key, m.value) for m in messages[:warm]])
        read = last_records(s.kafka_bootstrap, "md.raw.trades")
        wait_until(lambda: committed_past(s.kafka_bootstrap, group, "md.raw.trades", read), 300,
                   "the processor to read the first trades", interval=1.0)
        where += publish(s.kafka_bootstrap, [("md.raw.trades", m.key, m.value) for m in messages[warm:]],
                         rate=RATE)
        corpus_where = publish(s.kafka_bootstrap, corpus_msgs + [corpus_closer(corpus_msgs)])[:-1]
        end = last_records(s.kafka_bootstrap, "md.raw.trades")
        wait_until(lambda: committed_past(s.kafka_bootstrap, group, "md.raw.trades", end), 600,
                   "the processor to read everything", interval=1.0)
        try:  # the closing trades' watermark closes every bar; the bars commit at the next checkpoints
            wait_until(lambda: minute_trades(bar_records(s)) == valid and len(dlq_by_origin(s)) == rejects, 120,
                       "every bar and dead letter to be committed", interval=2.0)
        except StackError:
            pass  # the assertions below say what is missing
    expect = {at: (m.expect, m.value) for at, m in zip(where, messages)}
    for at, c, (_, _, payload) in zip(corpus_where, corpus, corpus_msgs):
        expect[at] = (c["expect"], payload)
    late = Counter(m.symbol for m in messages if m.expect == "LATE")
    # the corpus's valid trades, its LATE one (too late for a bar, archived all the same) and the closer
    corpus_trades = sum(1 for c in corpus if c["topic"] == "md.raw.trades" and c["expect"] in (None, "LATE")) + 1
    return expect, valid, late, corpus_trades


def corpus_closer(corpus_msgs) -> tuple[str, bytes, bytes]:
    """A valid corpus trade two days after the corpus's last one: it moves event time past the corpus's bars
    (its own bar stays open, as the last trade's of any stream does)."""
    latest = max(json.loads(p)["ts_event"] for (topic, _, p) in corpus_msgs if topic == "md.raw.trades"
                 and _is_json_trade(p))
    value = {"v": 1, "source": "corpus", "symbol": "ZZ", "venue": "XNAS", "ts_event": latest + 2 * DAY_NS,
             "ts_recv": latest + 2 * DAY_NS, "seq": 999_999, "price": "10.5", "size": "1", "trade_id": None,
             "conditions": []}
    return ("md.raw.trades", b"ZZ", json.dumps(value).encode())


def _is_json_trade(payload: bytes) -> bool:
    try:
        v = json.loads(payload)
        return isinstance(v, dict) and isinstance(v.get("ts_event"), int) and v["ts_event"] < 4 * 10**18
    except ValueError:
        return False


def original_bytes(dead: dict) -> bytes:
    raw = dead["original"]
    return base64.b64decode(raw) if dead["original_encoding"] == "base64" else raw.encode()


def test_every_reject_is_in_the_dlq_once_with_its_reason_and_bytes(running_stack, processed):
    expect, _, _, _ = processed
    dead = dlq_by_origin(running_stack)
    wanted = {at: reason for at, (reason, _) in expect.items() if reason is not None}
    got = {at: d["reason"] for at, d in dead.items()}
    missing = Counter(reason for at, reason in wanted.items() if got.get(at) != reason)
    extra = Counter(reason for at, reason in got.items() if wanted.get(at) != reason)
    assert got == wanted, f"dead letters: missing {dict(missing)}, unexpected {dict(extra)}"
    for at, d in dead.items():
        assert original_bytes(d) == expect[at][1], f"the dead letter at {at} carries the original bytes"
        assert d["original_size"] == len(expect[at][1]) and not d["original_truncated"]
    assert Counter(wanted.values())["LATE"] >= 50
    assert any("\\u0000" in p.decode(errors="replace") for r, p in expect.values() if r == "BAD_TYPE"), "a NUL"


def test_every_valid_trade_of_every_symbol_is_in_exactly_one_minute_bar(running_stack, processed):
    _, valid, _, _ = processed
    by_key = bar_records(running_stack)
    for key, records in by_key.items():
        assert [r["revision"] for r in records] == list(range(len(records))), f"revisions of {key}"
    minutes = minute_trades(by_key)
    assert minutes == valid, "each valid trade of each symbol in exactly one 1m bar"
    assert len(minutes) == SPEC.symbols + 1  # and the corpus's symbol
    for timeframe in ("5m", "15m", "1h", "1d"):
        rolled: Counter = Counter()
        for records in by_key.values():
            if records[-1]["timeframe"] == timeframe:
                rolled[records[-1]["symbol"]] += records[-1]["trade_count"]
        assert rolled == minutes, f"{timeframe} bars hold the same trades as the 1m bars"


def test_the_storage_writer_archives_every_valid_trade_once(running_stack, processed):
    """...and goes past records PostgreSQL could not store (a NUL in a string): they are rejects."""
    s = running_stack
    _, valid, late, corpus_trades = processed
    # The processor was stopped, not restarted: its last transaction on its output topics stays open until
    # the broker times it out (a restarted job aborts it at once), and read_committed readers wait for it.
    # The writer needs only md.raw.trades here, so those topics start empty.
    reset_topics(s.kafka_bootstrap, ["md.bars", "md.dlq", "md.quotes"])
    r = cli("db", "migrate")
    assert r.returncode == 0, r.stderr
    with psycopg2.connect(s.postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE trades")
    run_job("storage_writer", "--no-lake", "--parallelism", "2")
    conn = psycopg2.connect(s.postgres_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT symbol, count(*), count(DISTINCT (source, coalesce(trade_id, seq::text))) "
                        "FROM trades WHERE source LIKE 'feed-%' GROUP BY symbol")
            rows = {sym: (n, distinct) for sym, n, distinct in cur.fetchall()}
            cur.execute("SELECT count(*) FROM trades WHERE source = 'corpus'")
            [(corpus_rows,)] = cur.fetchall()
    finally:
        conn.close()
    # LATE trades are valid trades: too late for the bars, archived all the same
    feed = Counter({sym: n for sym, n in valid.items() if sym != "ZZ"}) + late
    assert {sym: n for sym, (n, _) in rows.items()} == dict(feed)
    assert all(n == distinct for n, distinct in rows.values()), "no trade archived twice"
    assert corpus_rows == corpus_trades, "the corpus's valid and late trades archived (and its closer), its rejects not"


def test_two_replayed_files_under_one_source_both_count_and_one_file_twice_counts_once(running_stack, tmp_path):
    """`tickflow replay` of day one and day two of ES under one source, then day one again: every trade of
    both days is in a bar once, and the second reading of day one is all DUPLICATE."""
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    lines = es_sample_csv(s.cache_dir).read_text().splitlines()
    header, rows = lines[0], lines[1:]
    day_one, day_two = tmp_path / "one.csv", tmp_path / "two.csv"
    day_one.write_text("\n".join([header, *rows[:3000]]) + "\n")
    day_two.write_text("\n".join([header, *rows[3000:6000]]) + "\n")
    for f in (day_one, day_two, day_one):
        r = cli("replay", "--file", str(f), "--source", "files", "--symbol", "FX", timeout=300)
        assert r.returncode == 0, r.stderr
    run_job("market_data_processor")
    by_key = bar_records(s)
    minutes = minute_trades(by_key)
    dead = Counter(d["reason"] for d in dlq_by_origin(s).values())
    assert minutes == {"FX": 6000}
    assert dead == {"DUPLICATE": 3000}
