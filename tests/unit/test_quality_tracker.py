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
    assert record["gap_minutes"] == 1 and record["gaps"] == [[T0 + 3 * MINUTE_NS, T0 + 4 * MINUTE_NS]]
    assert record["completeness"] == 0.5 and record["score"] < 100


def test_a_long_silence_is_judged_over_the_lookback_and_kept_small():
    t = QualityTracker(always_open, QualityOptions(lookback_ns=60 * MINUTE_NS))
    feed(t, 1)
    [record, *_] = t.on_window(window(10_000_000))  # ~19 years later
    assert record["gap_minutes"] == 60 and len(record["gaps"]) == 1
    assert record["gaps"][0][1] - record["gaps"][0][0] == 60 * MINUTE_NS


def test_silence_outside_the_session_is_not_a_gap():
    t = QualityTracker(lambda s, a, b: [])  # the venue is closed
    feed(t, 3)
    [record] = t.on_window(window(100))
    assert record["gap_minutes"] == 0 and record["gaps"] == [] and record["completeness"] == 1.0


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


def test_sources_closing_together_are_compared_both_ways():
    t = QualityTracker(always_open, QualityOptions(divergence_bps=10))
    records = t.on_windows([window(0, source="polygon", vwap=1640.0), window(0, source="finnhub", vwap=1650.0)])
    quality = {r["source"]: r for r in records if r["type"] == "quality"}
    assert quality["polygon"]["divergence_bps"] == quality["finnhub"]["divergence_bps"] > 10
    assert quality["polygon"]["consistency"] == quality["finnhub"]["consistency"] == 0.0


def test_a_single_stray_print_is_a_price_jump_although_the_vwap_barely_moves():
    t = QualityTracker(always_open)
    feed(t, 40)
    stray = WindowCounts("polygon", "ES", T0 + 40 * MINUTE_NS, T0 + 41 * MINUTE_NS, 300, {}, 1.0, 2.0,
                         1640.1, 102.0, high=1722.0, low=1639.75)
    [record, *_] = t.on_window(stray)
    assert [a["kind"] for a in record["anomalies"]] == ["PRICE_JUMP"]
    assert record["anomalies"][0]["value"] > 0.04


def test_stragglers_revise_a_scored_window_keeping_what_scoring_found():
    t = QualityTracker(always_open)
    feed(t, 3)
    t.on_window(window(4))  # minute 3 silent: a gap of this window
    assert t.is_scored("polygon", T0 + 4 * MINUTE_NS)
    revised = t.revise("polygon", T0 + 4 * MINUTE_NS, valid=1, rejected={"LATE": 2}, volume=10.0,
                       notional=10.0 * 1700.0, minutes=frozenset({T0 + 4 * MINUTE_NS}))
    assert revised["revision"] == 1 and revised["valid"] == 51
    assert revised["rejected_by_reason"] == {"LATE": 2}
    assert revised["gaps"] == [[T0 + 3 * MINUTE_NS, T0 + 4 * MINUTE_NS]]  # the silence found at scoring stays
    assert revised["vwap"] == round((1640.0 * 100 + 1700.0 * 10) / 110, 9)
    again = t.revise("polygon", T0 + 4 * MINUTE_NS, rejected={"LATE": 1})
    assert again["revision"] == 2 and again["rejected_by_reason"] == {"LATE": 3}


def test_windows_older_than_the_revision_horizon_are_forgotten():
    t = QualityTracker(always_open, QualityOptions(keep_windows_ns=3 * MINUTE_NS))
    feed(t, 10)
    assert not t.is_scored("polygon", T0) and t.is_scored("polygon", T0 + 9 * MINUTE_NS)


def test_a_feed_silent_through_trading_minutes_is_stale_once():
    t = QualityTracker(always_open, QualityOptions(stale_minutes=5))
    feed(t, 2)
    assert t.stale_alerts("ES", T0 + 6 * MINUTE_NS) == []  # 4 silent minutes
    [alert] = t.stale_alerts("ES", T0 + 7 * MINUTE_NS)
    assert alert["alert"] == "STALE_FEED" and alert["source"] == "polygon"
    assert t.stale_alerts("ES", T0 + 20 * MINUTE_NS) == []  # said once per silence
    resumed = t.on_window(window(21))
    assert "STALE_FEED" not in {r.get("alert") for r in resumed}  # not again when the feed resumes
    assert len(t.stale_alerts("ES", T0 + 40 * MINUTE_NS)) == 1  # a new silence


def test_a_closed_market_is_never_stale():
    t = QualityTracker(lambda s, a, b: [], QualityOptions(stale_minutes=5))
    t.on_window(window(0))
    assert t.stale_alerts("ES", T0 + 3 * 24 * 60 * MINUTE_NS) == []


def test_state_round_trips_through_plain_data():
    import pickle

    t = QualityTracker(always_open)
    feed(t, 35)
    copy = QualityTracker(always_open, state=pickle.loads(pickle.dumps(t.state())))
    nxt = window(35, vwap=1700.0)
    assert copy.on_window(nxt) == t.on_window(nxt)
    assert copy.state() == t.state()


def test_a_window_with_only_rejects_has_no_latency_and_scores_validity():
    t = QualityTracker(always_open)
    [record, *alerts] = t.on_window(WindowCounts("?", "?", T0, T0 + MINUTE_NS, 0, {"MALFORMED": 3}, None, None,
                                                 None, 0.0))
    assert record["latency_p99_ms"] is None and record["timeliness"] == 1.0 and record["validity"] == 0.0
    assert {a["alert"] for a in alerts} == {"LOW_SCORE", "DLQ_RATE"}
