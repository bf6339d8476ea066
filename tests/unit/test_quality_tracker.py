"""The per-feed quality state (jobs/quality_tracker.py) on constructed windows."""
from __future__ import annotations

from jobs.quality_tracker import MINUTE_NS, QualityOptions, QualityTracker, WindowCounts

T0 = 1_378_220_400_000_000_000  # 2013-09-03 15:00 UTC, a trading minute


def always_open(symbol: str, start: int, end: int) -> list[int]:
    return list(range(start - start % MINUTE_NS + (MINUTE_NS if start % MINUTE_NS else 0), end, MINUTE_NS))


def window(i: int, source="polygon", vwap=1640.0, volume=100.0, valid=50, rejected=None, p99=50.0) -> WindowCounts:
    start = T0 + i * MINUTE_NS
    return WindowCounts(source, "ES", start, start + MINUTE_NS, valid, rejected or {}, 10.0, p99, vwap, volume)


def feed(tracker: QualityTracker, n: int, **kw) -> list[dict]:
    out = []
    for i in range(n):
        wiggle = 0.25 * ((-1) ** i) * (i % 3)
        out += tracker.on_window(window(i, vwap=1640.0 + wiggle, volume=100.0 + i % 5, **kw))
    return out


def test_a_clean_feed_scores_100_and_raises_nothing():
    records = feed(QualityTracker(always_open), 40)
    assert all(r["type"] == "quality" and r["score"] == 100.0 and r["anomalies"] == [] for r in records)


def test_a_silent_minute_mid_session_is_a_gap_of_the_next_window():
    t = QualityTracker(always_open)
    feed(t, 3)
    [record] = [r for r in t.on_window(window(4)) if r["type"] == "quality"]  # minute 3 had no window
    assert record["gap_minutes"] == [T0 + 3 * MINUTE_NS]
    assert record["completeness"] == 0.5 and record["score"] < 100


def test_silence_outside_the_session_is_not_a_gap():
    t = QualityTracker(lambda s, a, b: [])  # the venue is closed
    feed(t, 3)
    [record] = t.on_window(window(100))
    assert record["gap_minutes"] == [] and record["completeness"] == 1.0


def test_a_long_silence_raises_a_stale_feed_alert():
    t = QualityTracker(always_open, QualityOptions(stale_minutes=5))
    feed(t, 2)
    alerts = [r for r in t.on_window(window(10)) if r["type"] == "alert"]
    assert {a["alert"] for a in alerts} >= {"STALE_FEED"}


def test_a_price_spike_is_flagged_not_dropped():
    t = QualityTracker(always_open)
    feed(t, 40)
    [record, *_] = t.on_window(window(40, vwap=1700.0))
    assert [a["kind"] for a in record["anomalies"]] == ["PRICE_JUMP"]
    assert record["valid"] == 50 and record["score"] < 100


def test_a_volume_spike_is_flagged():
    t = QualityTracker(always_open)
    feed(t, 40)
    [record, *_] = t.on_window(window(40, volume=50_000.0))
    assert [a["kind"] for a in record["anomalies"]] == ["VOLUME_SPIKE"]


def test_two_sources_that_diverge_are_found_by_the_second():
    t = QualityTracker(always_open, QualityOptions(divergence_bps=10))
    [first] = t.on_window(window(0, source="polygon", vwap=1640.0))
    assert first["divergence_bps"] is None and first["consistency"] == 1.0
    [second, *alerts] = t.on_window(window(0, source="finnhub", vwap=1650.0))
    assert second["divergence_bps"] > 10 and second["consistency"] == 0.0
    t.on_window(window(1, source="finnhub", vwap=1640.0))
    agree = t.on_window(window(1, source="polygon", vwap=1640.25))[0]
    assert agree["consistency"] == 1.0 and agree["divergence_bps"] < 10


def test_rejects_lower_validity_and_above_the_threshold_raise_a_dlq_alert():
    t = QualityTracker(always_open, QualityOptions(dlq_rate_alert=0.05))
    records = t.on_window(window(0, valid=90, rejected={"NON_POSITIVE_PRICE": 6, "MALFORMED": 4}))
    record = records[0]
    assert record["validity"] == 0.9 and record["rejected_by_reason"] == {"MALFORMED": 4, "NON_POSITIVE_PRICE": 6}
    assert "DLQ_RATE" in {r.get("alert") for r in records}


def test_slow_delivery_costs_timeliness_and_a_low_score_alerts():
    t = QualityTracker(always_open, QualityOptions(latency_target_ms=100, score_alert_below=90))
    records = t.on_window(window(0, p99=1000.0, rejected={"MALFORMED": 10}, valid=40))
    assert records[0]["timeliness"] == 0.0
    assert "LOW_SCORE" in {r.get("alert") for r in records}
