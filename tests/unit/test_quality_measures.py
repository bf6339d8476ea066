"""Data-quality measures on constructed cases (jobs/quality_measures.py)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from jobs.quality_measures import (
    WEIGHTS,
    Measures,
    calm,
    completeness,
    divergence_bps,
    is_price_jump,
    is_volume_spike,
    mad_zscore,
    timeliness,
    trading_minutes,
    validity,
)
from jobs.trading_days import trading_days

MIN = 60_000_000_000


def ns(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


CME_BREAKS = [("15:15", "15:30"), ("16:15", "17:00")]  # 2013 equity futures halt and maintenance, Chicago


def cme_minutes(start: str, end: str) -> list[int]:
    cal = trading_days("CMES")
    return trading_minutes(cal.opens, cal.closes, ns(start), ns(end), CME_BREAKS, "America/Chicago")


def test_validity_counts_rejects_and_an_empty_window_is_valid():
    assert validity(90, 10) == 0.9
    assert validity(0, 0) == 1.0


def test_a_silent_minute_during_the_session_is_a_gap():
    minutes = cme_minutes("2013-09-03 14:00", "2013-09-03 14:10")  # Tuesday, 09:00-09:10 Chicago: open
    assert len(minutes) == 10
    traded = set(minutes) - {ns("2013-09-03 14:04")}
    ratio, gaps = completeness(traded, minutes)
    assert gaps == [ns("2013-09-03 14:04")] and ratio == pytest.approx(0.9)


def test_the_weekend_and_the_daily_halts_are_not_gaps():
    assert cme_minutes("2013-08-31 12:00", "2013-09-01 21:00") == []   # Saturday to Sunday before the open
    # a normal Tuesday: the 15:15-15:30 halt and the 16:15-17:00 maintenance break (Chicago, CDT = UTC-5)
    assert cme_minutes("2013-09-03 20:15", "2013-09-03 20:30") == []
    assert cme_minutes("2013-09-03 21:15", "2013-09-03 22:00") == []
    assert cme_minutes("2013-09-03 20:14", "2013-09-03 20:16") == [ns("2013-09-03 20:14")]
    assert completeness(set(), []) == (1.0, [])


def test_a_holiday_early_close_is_not_a_gap():
    # Labor Day 2013: Globex closes early (12:00 Chicago = 17:00 UTC) and reopens for Tuesday at 17:00
    assert cme_minutes("2013-09-02 17:00", "2013-09-02 22:00") == []
    assert cme_minutes("2013-09-02 16:58", "2013-09-02 17:00") == [ns("2013-09-02 16:58"), ns("2013-09-02 16:59")]


def test_timeliness_is_full_within_target_and_falls_to_zero_at_ten_times_it():
    assert timeliness(80, 100) == 1.0
    assert timeliness(550, 100) == pytest.approx(0.5)
    assert timeliness(5000, 100) == 0.0


def test_a_divergence_between_two_sources_is_found_in_basis_points():
    assert divergence_bps(1640.25, 1640.25) == 0
    assert divergence_bps(1640.0, 1641.0) == pytest.approx(6.0957, rel=1e-3)


def test_mad_zscore_flags_a_price_jump_and_not_ordinary_noise():
    returns = [0.0001 * ((-1) ** i) * (i % 5) for i in range(60)]
    assert not is_price_jump(returns, 0.0003)
    assert is_price_jump(returns, 0.01)
    assert not is_price_jump(returns[:10], 0.01), "too little history to judge"
    assert mad_zscore([1, 1, 1], 1) == 0 and math.isinf(mad_zscore([1, 1, 1], 2))


def test_volume_spike():
    volumes = [10 + (i % 7) for i in range(50)]
    assert is_volume_spike(volumes, 400) and not is_volume_spike(volumes, 14)


def test_the_score_is_the_documented_weighted_mean():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert Measures(1, 1, 1, 1, 1).score() == 100.0
    assert Measures(0.9, 0.8, 1.0, 0.0, calm(1)).score() == pytest.approx(
        100 * (0.35 * 0.9 + 0.25 * 0.8 + 0.2 * 1 + 0.1 * 0 + 0.1 * 0.5), abs=0.05)
    assert calm(0) == 1.0 and calm(2) == calm(3) == 0.0  # a flagged window costs points whatever its size
