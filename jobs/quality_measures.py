"""Data-quality measures of one feed (a source's trades of one symbol) over a window, and the score.

Pure functions: the streaming job (`jobs/data_quality.py`) and the batch audit feed them what they
counted. Every measure is a ratio in [0, 1] (1 = perfect) so that the score is their weighted mean, times
100:

    score = 100 × (0.35·validity + 0.25·completeness + 0.20·timeliness + 0.10·consistency + 0.10·calm)

- validity: valid / (valid + rejected) records; a window with neither is 1 (nothing was wrong).
- completeness: trading minutes with at least one trade / trading minutes of the window, per the venue's
  calendar (exchange-calendars), so nights, weekends, holidays and early closes are not gaps.
- timeliness: 1 while the p99 of ts_recv − ts_event is within the target, falling linearly to 0 at ten
  times the target.
- consistency: 1 unless another source's price for the symbol diverges by more than the threshold (bps);
  then 0 for the window.
- calm: 1 − 0.5 × anomalies flagged in the window, floored at 0: a price jump or a volume spike is
  flagged, not dropped, and costs the window 5 points of score (both: 10), however many trades it has.
"""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from zoneinfo import ZoneInfo

WEIGHTS = {"validity": 0.35, "completeness": 0.25, "timeliness": 0.20, "consistency": 0.10, "calm": 0.10}
MAD_SCALE = 0.6745  # makes the MAD z-score comparable with a standard z-score for normal data


def validity(valid: int, rejected: int) -> float:
    total = valid + rejected
    return 1.0 if total == 0 else valid / total


def trading_minutes(opens_ns: Sequence[int], closes_ns: Sequence[int], start_ns: int, end_ns: int,
                    breaks: Sequence[tuple[str, str]] = (), tz: str = "UTC") -> list[int]:
    """Minute starts in ``[start, end)`` inside a session ``[open, close)`` and outside the venue's daily
    ``breaks`` (local ``("HH:MM", "HH:MM")`` windows in ``tz``, e.g. CME's maintenance halt, which the
    calendar's sessions do not carry). Sorted, ns."""
    minute = 60_000_000_000
    out: list[int] = []
    i = max(0, bisect.bisect_right(closes_ns, start_ns))
    while i < len(opens_ns) and opens_ns[i] < end_ns:
        lo = max(opens_ns[i], start_ns)
        lo += (-lo) % minute
        hi = min(closes_ns[i], end_ns)
        out.extend(range(lo, hi, minute))
        i += 1
    if breaks and out:
        out = [m for m in out if not _in_break(m, breaks, tz)]
    return out


def _in_break(minute_ns: int, breaks: Sequence[tuple[str, str]], tz: str) -> bool:
    local = datetime.fromtimestamp(minute_ns / 1e9, ZoneInfo(tz)).strftime("%H:%M")
    return any(start <= local < end for start, end in breaks)


def completeness(minutes_with_trades: set[int], session_minutes: Sequence[int]) -> tuple[float, list[int]]:
    """(ratio, the session minutes without a trade): the gaps, judged against the calendar."""
    if not session_minutes:
        return 1.0, []
    gaps = [m for m in session_minutes if m not in minutes_with_trades]
    return 1 - len(gaps) / len(session_minutes), gaps




def timeliness(p99_ms: float, target_ms: float) -> float:
    if p99_ms <= target_ms:
        return 1.0
    return max(0.0, 1 - (p99_ms - target_ms) / (9 * target_ms))


def divergence_bps(price: float, other: float) -> float:
    mid = (price + other) / 2
    return 0.0 if mid == 0 else abs(price - other) / mid * 10_000


def mad_zscore(history: Sequence[float], value: float) -> float:
    """Robust z-score of ``value`` against ``history``: 0.6745·(x − median) / MAD; 0 when MAD is 0 and x is
    the median, ±inf when MAD is 0 and x is not (a move out of a perfectly flat history)."""
    if not history:
        return 0.0
    med = median(history)
    mad = median(abs(h - med) for h in history)
    if mad == 0:
        return 0.0 if value == med else float("inf") if value > med else float("-inf")
    return MAD_SCALE * (value - med) / mad


def is_price_jump(recent_returns: Sequence[float], ret: float, threshold: float = 8.0, min_history: int = 30) -> bool:
    """A return far outside the recent ones (|MAD z| > threshold), once there is history to judge by."""
    return len(recent_returns) >= min_history and abs(mad_zscore(recent_returns, ret)) > threshold


def is_volume_spike(recent_volumes: Sequence[float], volume: float, threshold: float = 8.0,
                    min_history: int = 30) -> bool:
    return len(recent_volumes) >= min_history and mad_zscore(recent_volumes, volume) > threshold




def calm(anomalies: int) -> float:
    return max(0.0, 1 - 0.5 * anomalies)


@dataclass(frozen=True)
class Measures:
    validity: float
    completeness: float
    timeliness: float
    consistency: float
    calm: float

    def score(self) -> float:
        """The documented weighted mean, 0–100, rounded to 0.1."""
        total = sum(WEIGHTS[name] * getattr(self, name) for name in WEIGHTS)
        return round(100 * total, 1)
