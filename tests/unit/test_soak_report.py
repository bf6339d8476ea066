"""The soak's verdicts (bench/soak_report.py) on hand-made samples: bounded vs growing memory, failed
checkpoints counted from the feed's start, latency drift, lag and jobs that restarted."""
import sys

from tickflow.runtime.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import soak_report as report  # noqa: E402

BOUNDS = report.thirds(0, 300_000)


def sample(t_ms: int, rss: float, state: int, failed: int = 0, lag: int = 100, state_name: str = "RUNNING",
           restarts: float = 0.0, max_ms: int = 900) -> dict:
    job = {"state": state_name, "restarts": restarts, "completed": 10, "failed": failed, "latest_id": 1,
           "latest_duration_ms": 500, "state_bytes": state, "incremental_bytes": 10, "max_duration_ms": max_ms,
           "median_duration_ms": 400}
    return {"t_ms": t_ms, "jobs": {"mdp": job}, "tm": {"heap_used": 100.0, "managed_used": 50.0},
            "tm_rss_mb": rss, "lag": {"mdp": lag}, "cpu": {"busy": 0.9, "ours": 0.6, "others": 0.3}}


def series(rss_of, state_of, **kw) -> list[dict]:
    return [sample(t, rss_of(t), state_of(t), **kw) for t in range(0, 300_000, 15_000)]


def test_thirds_cover_the_span_and_split_by_time():
    assert BOUNDS == [(0, 100_000), (100_000, 200_000), (200_000, 300_000)]
    parts = report.split([0, 99_999, 100_000, 300_000, 300_001], lambda t: t, BOUNDS)
    assert parts == [[0, 99_999], [100_000], [300_000]]


def test_memory_that_levels_off_is_bounded_and_memory_that_keeps_growing_is_not():
    flat = report.memory_summary(series(lambda t: 2000 + min(t, 100_000) / 1000, lambda t: 5_000_000), BOUNDS)
    assert flat["ok"] and flat["tm_rss_mb"]["last_over_middle"] < 1.01
    growing = report.memory_summary(series(lambda t: 2000.0, lambda t: 1_000 + t * 100), BOUNDS)
    assert not growing["ok"] and growing["tm_rss_mb"]["ok"] and not growing["checkpointed_state_bytes"]["ok"]


def test_failures_before_the_feed_do_not_count_but_later_ones_and_slow_checkpoints_do():
    before = [sample(0, 1, 1, failed=7)] + [sample(t, 1, 1, failed=7) for t in (100_000, 200_000)]
    assert report.checkpoint_summary(before, before, 120_000)["ok"]
    later = before + [sample(290_000, 1, 1, failed=8)]
    summary = report.checkpoint_summary(later, later, 120_000)
    assert not summary["ok"] and summary["failed"] == 1
    slow = before + [sample(290_000, 1, 1, failed=7, max_ms=130_000)]
    assert not report.checkpoint_summary(slow, slow, 120_000)["ok"]


def test_drift_compares_the_last_thirds_p99_with_the_firsts_plus_margin():
    def third(p99):
        return {"produced_ms": {"n": 40, "p50": p99 - 10, "p99": p99, "max": p99}}

    assert report.drift_verdict({"first": third(400), "middle": third(400), "last": third(700)})["ok"]
    assert not report.drift_verdict({"first": third(400), "middle": third(400), "last": third(800)})["ok"]
    assert not report.drift_verdict({"first": {"produced_ms": None}, "last": third(1)})["ok"]


def test_bar_delays_keep_bars_closed_in_the_span_and_leave_out_daily_bars():
    def closed(bar):
        return bar["bucket_end"] // 1_000_000 + 2_000

    bars = [({"timeframe": "1m", "bucket_end": 60_000 * 10**6}, 62_300, 65_000),
            ({"timeframe": "1d", "bucket_end": 60_000 * 10**6}, 62_300, 65_000),
            ({"timeframe": "1m", "bucket_end": 10_000 * 10**6}, 12_300, 15_000)]
    delays = report.bar_delays(bars, closed, 30_000, 300_000)
    assert delays == [{"closed_ms": 62_000, "timeframe": "1m", "produced": 300, "visible": 3_000}]


def test_keeping_up_means_the_last_thirds_lag_under_ten_seconds_of_feed_for_the_judged_jobs():
    steady = [sample(t, 1, 1, lag=20_000) for t in range(0, 300_000, 15_000)]
    assert report.lag_summary(steady, BOUNDS, 5_000, {"mdp"})["ok"]
    behind = [sample(t, 1, 1, lag=t * 5) for t in range(0, 300_000, 15_000)]
    assert not report.lag_summary(behind, BOUNDS, 5_000, {"mdp"})["ok"]
    assert "ok" not in report.lag_summary(behind, BOUNDS, 5_000, {"other"})["by_job"]["mdp"]


def test_jobs_stayed_up_fails_on_a_restart_or_a_job_not_running():
    steady = [sample(t, 1, 1) for t in range(0, 300_000, 15_000)]
    assert report.jobs_up(steady)["ok"]
    assert not report.jobs_up(steady + [sample(299_000, 1, 1, restarts=1.0)])["ok"]
    assert not report.jobs_up(steady + [sample(299_000, 1, 1, state_name="RESTARTING")])["ok"]
