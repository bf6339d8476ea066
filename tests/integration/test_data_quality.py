"""The data-quality job on the real stack, beside the processor on the same input: the real ES trades,
shuffled within the lateness (so windows get revised), with a stray price print, a silent minute mid-session
and the bad-input corpus. Quality counts must reconcile with md.bars and md.dlq; the injected anomalies must
be flagged; Labor Day's early close must not count as a gap; a running job serves its metrics."""
from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from jobs.data_quality import METRICS, PROMETHEUS_OPERATOR_PREFIX
from tests.integration.job_cli import PRODUCT_IDLENESS, run_job, unbounded_job
from tests.integration.kafka_tools import publish, reset_topics
from tests.integration.test_market_data_processor import (
    corpus_messages,
    es_messages,
    final_bars,
    run_processor,
)
from tickflow.processes import wait_until
from tickflow.runtime.flink_runtime import local_metrics_ports
from tickflow.runtime.kafka_reading import read_to_end
from tickflow.topics import load_registry

TOPICS = ["md.raw.trades", "md.raw.quotes", "md.bars", "md.dlq", "md.quotes", "md.quality", "md.alerts"]
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MINUTE = 60_000_000_000
CHICAGO = ZoneInfo("America/Chicago")


def chicago(local: str) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=CHICAGO).timestamp()) * 1_000_000_000


SPIKE_MINUTE = chicago("2013-09-03T10:30")    # one trade printed 5% above the market
SILENT_MINUTE = chicago("2013-09-03T09:45")   # every trade of this minute withheld
LATE_MINUTE = chicago("2013-09-03T11:00")    # its first trades arrive 45 s after the minute closed
LABOR_DAY_CLOSED = (chicago("2013-09-02T12:00"), chicago("2013-09-02T17:00"))
FLOOD_FIRST, FLOOD_AGAIN = 60_000, 20_000  # the flood: this many ES trades, then the first of them again


def final_records(bootstrap: str, topic: str) -> dict[bytes, dict]:
    """A compacted topic as a consumer keeps it: the last record per key (the highest revision)."""
    out: dict[bytes, dict] = {}
    for rec in read_to_end(bootstrap, topic):
        v = json.loads(rec.value)
        if rec.key in out:
            assert v["revision"] > out[rec.key]["revision"], "revisions of a window must grow"
        out[rec.key] = v
    return out


@pytest.fixture(scope="module")
def scored(running_stack):
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    rnd = random.Random(20131024)
    es = []
    spiked = False
    for ts, payload in es_messages(s):
        if ts - ts % MINUTE == SILENT_MINUTE:
            continue
        if ts - ts % MINUTE == SPIKE_MINUTE and not spiked:
            v = json.loads(payload)
            v["price"] = str((Decimal(v["price"]) * Decimal("1.05") * 4).to_integral_value() / 4)
            payload, spiked = json.dumps(v, separators=(",", ":")).encode(), True
        es.append((ts, payload))
    # delays up to 30 s: late for the 2 s bound, inside the 60 s lateness, so windows are revised; the
    # spike's minute is not delayed so the stray print is there when its window is first scored
    delay = [0 if ts - ts % MINUTE == SPIKE_MINUTE else rnd.randrange(30 * 1_000_000_000) for ts, _ in es]
    for i in [i for i, (ts, _) in enumerate(es) if ts - ts % MINUTE == LATE_MINUTE][:3]:
        delay[i] = 105 * 1_000_000_000  # 45 s after the minute's end: inside the 60 s lateness
    order = sorted(range(len(es)), key=lambda i: es[i][0] + delay[i])
    publish(s.kafka_bootstrap, [("md.raw.trades", b"ES", es[i][1]) for i in order] + corpus_messages()[1])
    run_processor()
    run_job("data_quality")
    dlq = [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.dlq")]
    yield {"quality": final_records(s.kafka_bootstrap, "md.quality"),
            "alerts": [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.alerts")],
            "bars": final_bars(s), "dlq": dlq, "es_trades": len(es),
            "late_minute_trades": sum(1 for ts, _ in es if ts - ts % MINUTE == LATE_MINUTE)}
    reset_topics(s.kafka_bootstrap, TOPICS)  # later modules expect only their own records


def test_every_record_is_a_valid_quality_or_alert_message(scored):
    # one checked validator per schema: jsonschema.validate() re-checks the schema on every call
    quality = validator(SCHEMAS / "quality.schema.json")
    alert = validator(SCHEMAS / "alert.schema.json")
    for v in scored["quality"].values():
        quality.validate(v)
    for a in scored["alerts"]:
        alert.validate(a)


def validator(path: Path) -> jsonschema.protocols.Validator:
    """A validator for the JSON Schema at ``path``, the schema itself checked once."""
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_valid_counts_equal_the_trade_counts_of_the_final_1m_bars_window_by_window(scored):
    bars = {(k[0], k[2]): v["trade_count"] for k, v in scored["bars"].items() if k[1] == "1m"}
    valid = Counter()
    for v in scored["quality"].values():
        if v["valid"]:
            valid[(v["symbol"], v["window_start"])] += v["valid"]
    assert valid == Counter(bars)
    assert sum(v for (symbol, _), v in valid.items() if symbol == "ES") == scored["es_trades"]


def test_rejects_by_reason_equal_the_dead_letters_of_raw_trades(scored):
    from_trades = Counter(d["reason"] for d in scored["dlq"] if d["topic"] == "md.raw.trades")
    in_quality = Counter()
    for v in scored["quality"].values():
        in_quality.update(v["rejected_by_reason"])
    assert in_quality == from_trades
    assert {"DUPLICATE", "LATE", "MALFORMED"} <= set(in_quality)


def test_trades_late_for_their_window_count_as_in_the_revised_bar(scored):
    """Both jobs count the late trades in their minute: the processor in its bar (a revision, or merged
    before the bar book emits it), the quality job merged before scoring when they reach it first (a
    full-speed replay crosses 45 s of event time in milliseconds), else as a revision
    (tests/unit/test_quality_tracker.py)."""
    [late] = [v for v in scored["quality"].values() if v["symbol"] == "ES" and v["window_start"] == LATE_MINUTE]
    bar = scored["bars"][("ES", "1m", LATE_MINUTE)]
    assert late["valid"] == bar["trade_count"] == scored["late_minute_trades"]


def test_the_stray_print_is_flagged_as_a_price_jump_and_kept(scored):
    [spike] = [v for v in scored["quality"].values() if v["symbol"] == "ES" and v["window_start"] == SPIKE_MINUTE]
    assert [a["kind"] for a in spike["anomalies"]] == ["PRICE_JUMP"]
    assert spike["anomalies"][0]["value"] > 0.04 and spike["score"] < 100
    assert scored["bars"][("ES", "1m", SPIKE_MINUTE)]["trade_count"] == spike["valid"]  # flagged, not dropped
    jumps = [v["window_start"] for v in scored["quality"].values() for a in v["anomalies"] if a["kind"] == "PRICE_JUMP"]
    assert len(jumps) <= 25, f"ordinary minutes must rarely look like jumps: {len(jumps)}"


def test_the_silent_minute_is_a_gap_of_the_next_window_and_the_holiday_is_not(scored):
    es = {v["window_start"]: v for v in scored["quality"].values() if v["symbol"] == "ES"}
    assert SILENT_MINUTE not in es
    after = es[SILENT_MINUTE + MINUTE]
    assert [SILENT_MINUTE, SILENT_MINUTE + MINUTE] in after["gaps"] and after["completeness"] < 1
    gaps = [m for v in es.values() for start, end in v["gaps"] for m in range(start, end, MINUTE)]
    assert len(gaps) == sum(v["gap_minutes"] for v in es.values())
    assert not [g for g in gaps if LABOR_DAY_CLOSED[0] <= g < LABOR_DAY_CLOSED[1]]
    assert len(gaps) == len(set(gaps)), "a silent minute is a gap of one window only"


def test_rejected_shares_above_the_threshold_raise_dlq_rate_alerts(scored):
    dlq_alerts = [a for a in scored["alerts"] if a["alert"] == "DLQ_RATE"]
    assert dlq_alerts and all(a["source"] != "replay" for a in dlq_alerts)  # the corpus, not the clean ES feed
    assert all(a["alert"] in ("LOW_SCORE", "STALE_FEED", "DLQ_RATE") for a in scored["alerts"])


def test_a_running_job_serves_its_metrics_to_prometheus(running_stack, scored):
    """A local run (MiniCluster) has Flink's Prometheus reporter on, like the cluster; the job's own
    metrics are there with their labels."""
    s = running_stack
    low, high = (int(p) for p in local_metrics_ports(s).split("-"))
    seen: list[str] = []
    with unbounded_job("data_quality"):
        def scrape() -> bool:
            for port in range(low, high + 1):
                try:
                    text = urlopen(f"http://{s.host}:{port}/metrics", timeout=2).read().decode()
                except OSError:
                    continue
                if f'{PROMETHEUS_OPERATOR_PREFIX}source_symbol_quality_score{{' in text and 'symbol="ES"' in text:
                    seen.append(text)
                    return True
            return False

        wait_until(scrape, timeout=300, interval=2, what="the quality job's metrics on its Prometheus port")
    text = seen[-1]
    for name in ("records_valid", "reason_records_rejected", "source_symbol_quality_score",
                 "quality_watermark_lag_seconds"):
        assert name in METRICS and f"{PROMETHEUS_OPERATOR_PREFIX}{name}{{" in text, name
    assert 'reason="MALFORMED"' in text


@pytest.fixture(scope="module")
def flooded(running_stack, scored):
    """A running job reads the sample's first hours; once it has scored them, the first of those trades come
    again byte for byte (a replay repeated into the same topic), then the sample goes on minute by minute
    until the job has scored the window the duplicates landed in."""
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    es = es_messages(s)
    partitions = load_registry()["md.raw.trades"].partitions
    first, again, after = es[:FLOOD_FIRST], es[:FLOOD_AGAIN], es[FLOOD_FIRST:]

    def send(messages: list[tuple[int, bytes]], offset: int) -> None:
        # dealt over every partition, in time order within each, so no partition holds the watermark back
        # and each re-sent trade goes where its original went
        publish(s.kafka_bootstrap, [("md.raw.trades", b"ES", p, (offset + i) % partitions)
                                    for i, (_, p) in enumerate(messages)])

    last_window = first[-1][0] - first[-1][0] % MINUTE
    minutes_after = sorted({ts - ts % MINUTE for ts, _ in after})
    sent_after: list[int] = []

    def scored_minute(ws: int) -> bool:
        return any(json.loads(r.value)["window_start"] >= ws for r in read_to_end(s.kafka_bootstrap, "md.quality"))

    trades_per_window = Counter(ts - ts % MINUTE for ts, _ in es)

    def flood_scored() -> bool:
        """The next minute of the sample; true once a record holds every duplicate and its window's own
        trades (a window row that reaches the tracker after the window's timer comes as a revision)."""
        ws = minutes_after[len(sent_after)]
        minute = [m for m in after if m[0] - m[0] % MINUTE == ws]
        send(minute, FLOOD_FIRST + FLOOD_AGAIN + sum(sent_after))
        sent_after.append(len(minute))
        records = [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.quality")]
        return any(v["rejected_by_reason"].get("DUPLICATE", 0) >= FLOOD_AGAIN
                   and v["valid"] == trades_per_window[v["window_start"]] for v in records)

    send(first, 0)
    with unbounded_job("data_quality", env=PRODUCT_IDLENESS):
        wait_until(lambda: scored_minute(last_window - 5 * MINUTE), timeout=300, interval=1,
                   what="the quality job scoring the sample's first hours")
        send(again, 0)
        wait_until(flood_scored, timeout=300, interval=2, what="the window holding the re-sent trades scored")
    sent = first + after[:sum(sent_after)]
    yield {"quality": final_records(s.kafka_bootstrap, "md.quality"),
           "alerts": [json.loads(r.value) for r in read_to_end(s.kafka_bootstrap, "md.alerts")],
           "last_window": last_window, "valid_per_window": Counter(ts - ts % MINUTE for ts, _ in sent)}
    reset_topics(s.kafka_bootstrap, TOPICS)


def test_a_repeated_replay_counts_as_duplicates_now_and_leaves_the_scored_windows_alone(flooded):
    """The re-sent trades' windows were scored and forgotten before they came again: their duplicates count
    in the window open when they arrived, and the windows they came from keep their records (revision 0,
    valid = their trades, nothing rejected)."""
    records = {v["window_start"]: v for v in flooded["quality"].values() if v["symbol"] == "ES"}
    [flooded_window] = [ws for ws, v in records.items() if v["rejected_by_reason"]]
    assert records[flooded_window]["rejected_by_reason"] == {"DUPLICATE": FLOOD_AGAIN}
    assert flooded_window >= flooded["last_window"]
    assert any(a["alert"] == "DLQ_RATE" and a["window_start"] == flooded_window for a in flooded["alerts"])
    assert {ws: v["valid"] for ws, v in records.items()} == {
        ws: n for ws, n in flooded["valid_per_window"].items() if ws in records}
    before = [ws for ws in records if ws < flooded["last_window"]]
    assert len(before) > 500 and all(records[ws]["revision"] == 0 for ws in before)
