"""The demo's summary lines are computed from what the jobs wrote; the arithmetic is checked here."""
from dataclasses import dataclass

from tickflow import demo


@dataclass
class Record:
    timestamp: int  # Kafka timestamp, ms


def test_sustained_rate_counts_trades_after_the_first_bar_over_the_bars_time_span():
    records = [Record(10_000), Record(11_000), Record(12_000), Record(13_000)]
    bars = [{"timeframe": "1m", "trade_count": 100}, {"timeframe": "5m", "trade_count": 999},
            {"timeframe": "1m", "trade_count": 300}, {"timeframe": "1m", "trade_count": 300}]
    # 1m bars at 10 s, 12 s and 13 s: the trades of the 2nd and 3rd over 3 s
    assert demo.sustained_rate(records, bars) == "200 trades/s sustained (first → last bar)"


def test_sustained_rate_needs_two_minute_bars():
    assert demo.sustained_rate([Record(1)], [{"timeframe": "1m", "trade_count": 5}]).startswith("too few")


def test_dead_letters_are_summed_by_reason_in_name_order():
    dead = [{"reason": "MALFORMED"}, {"reason": "DUPLICATE"}, {"reason": "MALFORMED"}]
    assert demo.reasons(dead) == " (by reason: 1 DUPLICATE, 2 MALFORMED)"
    assert demo.reasons([]) == ""


def test_quality_summary_scores_the_last_revision_of_each_window():
    records = [{"source": "a", "symbol": "ES", "window_start": 1, "score": 0.2, "anomalies": ["X"]},
               {"source": "a", "symbol": "ES", "window_start": 1, "score": 0.9, "anomalies": []},
               {"source": "a", "symbol": "ES", "window_start": 2, "score": 0.7, "anomalies": ["Y"]}]
    assert demo.quality_summary(records) == "2 windows, score median 0.9, min 0.7; 1 anomalies flagged"
    assert demo.quality_summary([]) == "none"


def test_the_demo_fails_when_a_trade_is_unaccounted_for_a_bar_lacks_indicators_or_the_audit_fails():
    assert demo.verdict(100, 90, 10, 40, 40, 0) == []
    assert demo.verdict(100, 90, 9, 40, 40, 0) == ["100 trades in md.raw.trades, but 90 in bars + 9 in md.dlq"]
    assert demo.verdict(100, 90, 10, 40, 39, 0) == ["40 bars but only 39 indicator records"]
    assert demo.verdict(100, 90, 10, 40, 40, 1) == [
        f"the audit of the {demo.AUDIT_DATE} bars failed (its report is above)"]


def test_a_bounded_jobs_progress_is_what_its_furthest_source_has_read(monkeypatch):
    # the processor's plan as the REST API gives it: md.raw.trades scanned twice, md.raw.quotes once
    job = {"plan": {"nodes": [{"id": "a"}, {"id": "b"}, {"id": "q"}, {"id": "agg", "inputs": [{"id": "a"}]}]},
           "vertices": [{"id": "a", "metrics": {"read-records": 1200}}, {"id": "b", "metrics": {"read-records": 900}},
                        {"id": "q", "metrics": {"read-records": 0}}, {"id": "agg", "metrics": {"read-records": 5000}}]}
    monkeypatch.setattr(demo.cluster, "rest", lambda s, path: job)
    assert demo._source_records(None, "job-id") == 1200


def test_a_bounded_jobs_progress_is_zero_while_the_cluster_does_not_answer(monkeypatch):
    def unreachable(s, path):
        raise demo.StackError("no cluster")

    monkeypatch.setattr(demo.cluster, "rest", unreachable)
    assert demo._source_records(None, "job-id") == 0
