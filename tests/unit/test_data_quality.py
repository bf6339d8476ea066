"""The quality job's pure parts: the calendar it judges gaps by (from jobs/market_rules.yaml), its SQL,
keys, and how it gathers a window's counts before scoring."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jobs import validation
from jobs.data_quality import (
    DataQualityOptions,
    add_to_pending,
    count_unplaced,
    minutes_of,
    open_window,
    parse_args,
    record_key,
    row_place,
    statements,
    window_of,
)
from jobs.quality_calendar import session_minutes_function

CHICAGO = ZoneInfo("America/Chicago")
MINUTE = 60_000_000_000


def ns(local: str) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=CHICAGO).timestamp()) * 1_000_000_000


def test_es_minutes_follow_cme_calendar_halts_and_labor_day():
    minutes = session_minutes_function(validation.load_rules())
    # Tuesday 2013-09-03: open all morning, the 15:15-15:30 halt and the 16:15-17:00 break are not minutes
    assert len(minutes("ES", ns("2013-09-03T09:00"), ns("2013-09-03T10:00"))) == 60
    assert minutes("ES", ns("2013-09-03T15:15"), ns("2013-09-03T15:30")) == []
    assert minutes("ES", ns("2013-09-03T16:15"), ns("2013-09-03T17:00")) == []
    # Labor Day 2013-09-02: CME closed early at 12:00 and reopened for the next session at 17:00
    assert minutes("ES", ns("2013-09-02T12:00"), ns("2013-09-02T17:00")) == []
    assert minutes("ES", ns("2013-09-02T11:59"), ns("2013-09-02T12:00")) == [ns("2013-09-02T11:59")]
    # Saturday
    assert minutes("ES", ns("2013-09-07T00:00"), ns("2013-09-08T00:00")) == []


def test_a_symbol_without_a_venue_is_judged_around_the_clock():
    minutes = session_minutes_function(validation.load_rules())
    assert len(minutes("NOVENUE", ns("2013-09-07T00:00"), ns("2013-09-07T01:00"))) == 60


def test_keys_windows_and_minutes():
    assert window_of(ns("2013-09-03T09:07") + 5, 5 * MINUTE) == ns("2013-09-03T09:05")
    assert record_key({"type": "quality", "source": "replay", "symbol": "ES", "window_start": 7}) == b"replay|ES|7"
    assert record_key({"type": "alert", "alert": "STALE_FEED", "source": "replay", "symbol": "ES",
                       "window_start": 7}) == b"replay|ES|STALE_FEED|7"
    assert minutes_of("2,3") == {2 * MINUTE, 3 * MINUTE} and minutes_of(None) == set()


def test_pending_gathers_valid_rows_rejects_and_stragglers_of_a_window():
    pending: dict = {}
    add_to_pending(pending, 0, "replay", valid=10, volume=5.0, notional=500.0, p50=1.0, p99=2.0, minutes={0},
                high=101.0, low=99.0)
    add_to_pending(pending, 0, "replay", reason="DUPLICATE", n=2)
    add_to_pending(pending, 0, "replay", reason="LATE", n=1)
    add_to_pending(pending, 0, "replay", valid=1, volume=1.0, notional=103.0, minutes={MINUTE}, high=103.0,
                low=103.0)
    c = pending[0]["replay"]
    assert (c["valid"], c["rejected"], c["volume"], c["notional"]) == (11, {"DUPLICATE": 2, "LATE": 1}, 6.0, 603.0)
    assert (c["high"], c["low"], c["minutes"], c["p99"]) == (103.0, 99.0, {0, MINUTE}, 2.0)


def test_the_sql_reuses_the_processors_classification_and_windows_by_the_option():
    stmts = statements("k:9092", DataQualityOptions(window_minutes=5), validation.load_rules())
    text = "\n".join(stmts)
    for view in ("trades_checked", "trades_timed", "to_python"):
        assert f"VIEW {view} AS" in text
    assert "FROM trades_accepted" in text and "FROM trades_refused" in text
    assert "INTERVAL '5' MINUTE" in text and "PERCENTILE(" in text
    assert "p.ts_recv AS ts_recv" in text  # carried from the parse for the latency


def test_job_flags_say_what_is_wrong_in_one_line(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        parse_args(["--window-minutes", "five"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--window-minutes" in err[0]


def test_late_records_revise_their_window_wait_for_it_or_count_now_once_it_is_forgotten():
    ws, w = 10 * MINUTE, MINUTE
    closed_ms = (ws + w) // 1_000_000 - 1  # the window's last millisecond: its timer
    assert row_place(False, True, False, ws, w, closed_ms + 5_000) == "revise"
    assert row_place(False, False, True, ws, w, closed_ms) == "pending"
    assert row_place(False, False, False, ws, w, closed_ms - 1) == "pending"  # not closed at this watermark
    assert row_place(False, False, False, ws, w, closed_ms) == "now"  # closed, scored, forgotten
    assert row_place(False, False, False, ws, w, 10 ** 15) == "now"


def test_a_window_row_behind_its_windows_timer_revises_it_and_never_moves_to_another_window():
    ws, w = 10 * MINUTE, MINUTE
    closed_ms = (ws + w) // 1_000_000 - 1
    assert row_place(True, True, False, ws, w, closed_ms + 5_000) == "revise"  # not a second revision 0
    assert row_place(True, False, False, ws, w, closed_ms + 5_000) == "pending"  # its counts are its window's
    assert row_place(True, False, False, ws, w, closed_ms - 1) == "pending"


def test_records_without_a_window_count_in_the_first_one_the_watermark_has_not_closed():
    ws, w = 10 * MINUTE, MINUTE
    closed_ms = (ws + w) // 1_000_000 - 1
    assert open_window(closed_ms - 1, closed_ms - 1, w) == ws
    assert open_window(closed_ms, closed_ms, w) == ws + w  # a watermark on its last millisecond closed it
    assert open_window(-2 ** 63, 0, w) == 0  # no watermark yet
    assert open_window(2 ** 63 - 1, closed_ms, w) == ws  # bounded input ended: the timer's window


def test_unplaced_records_of_older_state_are_counted_per_source_and_reason():
    assert count_unplaced([("a", "MALFORMED"), ["a", "MALFORMED"], ("?", "MISSING_FIELD")]) == {
        ("a", "MALFORMED"): 2, ("?", "MISSING_FIELD"): 1}

