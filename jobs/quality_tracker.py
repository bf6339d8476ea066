"""The stateful part of data quality, at window rate: per feed (source, symbol) it turns each window's
counts into a quality record (``schemas/quality.schema.json``) and alerts.

The streaming job (``jobs/data_quality.py``) counts per window in SQL; this class, kept free of Flink so it
is unit-tested in milliseconds, adds what needs memory across windows: silent trading minutes since the
feed's previous window (gaps, judged by the venue's calendar), price jumps and volume spikes against the
feed's recent windows (MAD z-scores), divergence from other sources of the same symbol, and the score
(``jobs/quality_measures.py``).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from jobs import quality_measures as qm

MINUTE_NS = 60_000_000_000


@dataclass(frozen=True)
class WindowCounts:
    """One feed's window as the SQL stage counted it."""

    source: str
    symbol: str
    window_start: int
    window_end: int
    valid: int
    rejected: dict[str, int]
    latency_p50_ms: float
    latency_p99_ms: float
    vwap: float | None
    volume: float
    minutes_with_trades: frozenset[int] = frozenset()


@dataclass(frozen=True)
class QualityOptions:
    latency_target_ms: float = 1_000.0
    divergence_bps: float = 10.0
    history: int = 60
    jump_z: float = 8.0
    spike_z: float = 8.0
    score_alert_below: float = 80.0
    stale_minutes: int = 5
    dlq_rate_alert: float = 0.01  # rejected share of a window's records above which an alert is raised


@dataclass
class _Feed:
    last_end: int | None = None
    last_vwap: float | None = None
    returns: deque = field(default_factory=lambda: deque(maxlen=60))
    volumes: deque = field(default_factory=lambda: deque(maxlen=60))


class QualityTracker:
    """``session_minutes(symbol, start, end)`` gives the symbol's trading minute starts in ``[start, end)``."""

    def __init__(self, session_minutes: Callable[[str, int, int], list[int]],
                 options: QualityOptions | None = None) -> None:
        self.session_minutes = session_minutes
        self.opts = options or QualityOptions()
        self._feeds: dict[tuple[str, str], _Feed] = {}
        self._vwaps: dict[tuple[str, int], dict[str, float]] = {}

    def on_window(self, w: WindowCounts) -> list[dict]:
        """The quality record of ``w`` and any alerts, as dicts ready for JSON."""
        feed = self._feeds.setdefault((w.source, w.symbol), _Feed(returns=deque(maxlen=self.opts.history),
                                                                   volumes=deque(maxlen=self.opts.history)))
        silent_before = self._silent_minutes(w.symbol, feed.last_end, w.window_start)
        in_window = self.session_minutes(w.symbol, w.window_start, w.window_end)
        traded = set(w.minutes_with_trades) if w.minutes_with_trades else (set(in_window) if w.valid else set())
        completeness, gaps = qm.completeness(traded, in_window)
        gaps = silent_before + gaps
        anomalies = self._anomalies(feed, w)
        divergence = self._divergence(w)
        rejected = sum(w.rejected.values())
        measures = qm.Measures(
            validity=qm.validity(w.valid, rejected),
            completeness=completeness if not silent_before else
            qm.completeness(traded, silent_before + in_window)[0],
            timeliness=qm.timeliness(w.latency_p99_ms, self.opts.latency_target_ms),
            consistency=0.0 if divergence is not None and divergence > self.opts.divergence_bps else 1.0,
            calm=qm.calm(len(anomalies), max(w.valid, 1)),
        )
        score = measures.score()
        record = {
            "type": "quality", "source": w.source, "symbol": w.symbol,
            "window_start": w.window_start, "window_end": w.window_end,
            "valid": w.valid, "rejected": rejected, "rejected_by_reason": dict(sorted(w.rejected.items())),
            "gap_minutes": gaps, "completeness": round(measures.completeness, 4),
            "latency_p50_ms": w.latency_p50_ms, "latency_p99_ms": w.latency_p99_ms,
            "timeliness": round(measures.timeliness, 4),
            "divergence_bps": None if divergence is None else round(divergence, 2),
            "consistency": measures.consistency, "anomalies": anomalies,
            "validity": round(measures.validity, 4), "score": score,
        }
        feed.last_end = w.window_end
        return [record] + self._alerts(w, record, silent_before, rejected)

    # --- pieces ---------------------------------------------------------------------------------------
    def _silent_minutes(self, symbol: str, last_end: int | None, start: int) -> list[int]:
        if last_end is None or start <= last_end:
            return []
        return self.session_minutes(symbol, last_end, start)

    def _anomalies(self, feed: _Feed, w: WindowCounts) -> list[dict]:
        found = []
        if w.vwap is not None and feed.last_vwap:
            ret = w.vwap / feed.last_vwap - 1
            if qm.is_price_jump(list(feed.returns), ret, self.opts.jump_z):
                found.append({"kind": "PRICE_JUMP", "value": round(ret, 6),
                              "zscore": round(qm.mad_zscore(list(feed.returns), ret), 1)})
            feed.returns.append(ret)
        if w.valid:
            if qm.is_volume_spike(list(feed.volumes), w.volume, self.opts.spike_z):
                found.append({"kind": "VOLUME_SPIKE", "value": w.volume,
                              "zscore": round(qm.mad_zscore(list(feed.volumes), w.volume), 1)})
            feed.volumes.append(w.volume)
        if w.vwap is not None:
            feed.last_vwap = w.vwap
        return found

    def _divergence(self, w: WindowCounts) -> float | None:
        if w.vwap is None:
            return None
        key = (w.symbol, w.window_start)
        others = self._vwaps.setdefault(key, {})
        others[w.source] = w.vwap
        if len(self._vwaps) > 10_000:  # windows long closed: forget the oldest
            for old in sorted(self._vwaps, key=lambda k: k[1])[:1000]:
                del self._vwaps[old]
        diffs = [qm.divergence_bps(w.vwap, p) for s, p in others.items() if s != w.source]
        return max(diffs) if diffs else None

    def _alerts(self, w: WindowCounts, record: dict, silent_before: list[int], rejected: int) -> list[dict]:
        alerts = []
        base = {"type": "alert", "source": w.source, "symbol": w.symbol, "window_start": w.window_start,
                "window_end": w.window_end}
        if record["score"] < self.opts.score_alert_below:
            alerts.append({**base, "alert": "LOW_SCORE", "detail": f"score {record['score']} < "
                                                                     f"{self.opts.score_alert_below}"})
        if len(silent_before) >= self.opts.stale_minutes:
            alerts.append({**base, "alert": "STALE_FEED",
                           "detail": f"{len(silent_before)} trading minutes without a record before this window"})
        total = w.valid + rejected
        if total and rejected / total > self.opts.dlq_rate_alert:
            alerts.append({**base, "alert": "DLQ_RATE", "detail": f"{rejected} of {total} records rejected"})
        return alerts
