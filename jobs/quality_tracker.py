"""The stateful part of data quality, at window rate: per symbol it turns each feed's window counts into a
quality record (``schemas/quality.schema.json``) and alerts (``schemas/alert.schema.json``).

The streaming job (``jobs/data_quality.py``) counts per window in SQL; this class, kept free of Flink so it
is unit-tested in milliseconds, adds what needs memory across windows: silent trading minutes since the
feed's previous window (gaps, judged by the venue's calendar), price jumps and volume spikes against the
feed's recent windows (MAD z-scores), divergence from other sources of the same symbol, stale feeds, and
the score (``jobs/quality_measures.py``). Records that reach a window after it was scored (late trades,
rejects placed late) revise it: the same key again, ``revision`` + 1, counts and measures recomputed with
the anomalies and divergence found the first time.

One tracker serves one symbol's feeds (the job keys by symbol), so every source of a symbol is at hand
when a window is compared across sources. Its memory is plain data (:meth:`state`) for Flink state.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from jobs import quality_measures as qm

MINUTE_NS = 60_000_000_000


@dataclass(frozen=True)
class WindowCounts:
    """One feed's window as the SQL stage counted it (plus any stragglers placed in it)."""

    source: str
    symbol: str
    window_start: int
    window_end: int
    valid: int
    rejected: dict[str, int]
    latency_p50_ms: float | None  # None: no valid trade in the window
    latency_p99_ms: float | None
    vwap: float | None
    volume: float
    minutes_with_trades: frozenset[int] = frozenset()
    high: float | None = None  # the window's highest and lowest valid trade price (None: the VWAP)
    low: float | None = None


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
    keep_windows_ns: int = 10 * MINUTE_NS  # how long a scored window can still be revised
    lookback_ns: int = 24 * 60 * MINUTE_NS  # silence before a window is judged over at most this span


@dataclass
class _Feed:
    last_end: int | None = None
    last_vwap: float | None = None
    stale_alerted: bool = False
    returns: deque = field(default_factory=deque)
    volumes: deque = field(default_factory=deque)


@dataclass(frozen=True)
class _Found:
    """What scoring a window found that a revision keeps: it is not re-judged on a few late trades."""

    silent_before: tuple[int, ...]
    anomalies: tuple
    divergence: float | None


class QualityTracker:
    """``session_minutes(symbol, start, end)`` gives the symbol's trading minute starts in ``[start, end)``."""

    def __init__(self, session_minutes: Callable[[str, int, int], list[int]],
                 options: QualityOptions | None = None, state: dict | None = None) -> None:
        self.session_minutes = session_minutes
        self.opts = options or QualityOptions()
        self._feeds: dict[str, _Feed] = {}
        self._vwaps: dict[int, dict[str, float]] = {}  # window_start → source → vwap
        self._scored: dict[tuple[str, int], tuple[WindowCounts, _Found, int]] = {}  # revisable windows
        if state:
            self._restore(state)

    # --- windows ------------------------------------------------------------------------------------
    def on_window(self, w: WindowCounts) -> list[dict]:
        return self.on_windows([w])

    def on_windows(self, windows: list[WindowCounts]) -> list[dict]:
        """Score windows that closed together (every source of the symbol): prices are noted first so
        each source is compared with all the others of its window. Returns records and alerts."""
        for w in windows:
            if w.vwap is not None:
                self._vwaps.setdefault(w.window_start, {})[w.source] = w.vwap
        out: list[dict] = []
        for w in sorted(windows, key=lambda x: (x.window_start, x.source)):
            feed = self._feeds.setdefault(w.source, self._new_feed())
            found = _Found(tuple(self._silent_minutes(w.symbol, feed.last_end, w.window_start)),
                           tuple(self._anomalies(feed, w)), self._divergence(w))
            record = self._record(w, found, 0)
            self._scored[(w.source, w.window_start)] = (w, found, 0)
            out += [record] + self._alerts(w, record, found.silent_before, feed.stale_alerted)
            feed.last_end = max(feed.last_end or 0, w.window_end)
            feed.stale_alerted = False
        self._forget_before(max(w.window_end for w in windows) - self.opts.keep_windows_ns)
        return out

    def is_scored(self, source: str, window_start: int) -> bool:
        return (source, window_start) in self._scored

    def revise(self, source: str, window_start: int, valid: int = 0, rejected: dict[str, int] | None = None,
               volume: float = 0.0, notional: float = 0.0, minutes: frozenset[int] = frozenset(),
               high: float | None = None, low: float | None = None) -> dict:
        """Add stragglers to a window already scored; returns its record again with ``revision`` + 1."""
        w, found, revision = self._scored[(source, window_start)]
        merged = merge(w, valid, rejected or {}, volume, notional, minutes, high, low)
        self._scored[(source, window_start)] = (merged, found, revision + 1)
        return self._record(merged, found, revision + 1)

    def stale_alerts(self, symbol: str, now_ns: int) -> list[dict]:
        """STALE_FEED for each feed silent for ``stale_minutes`` trading minutes up to ``now`` (once per
        silence: a new window re-arms it). Minutes the venue is closed do not count."""
        alerts = []
        for source, feed in self._feeds.items():
            if feed.last_end is None or feed.stale_alerted or now_ns <= feed.last_end:
                continue
            silent = self.session_minutes(symbol, max(feed.last_end, now_ns - self.opts.lookback_ns), now_ns)
            if len(silent) >= self.opts.stale_minutes:
                feed.stale_alerted = True
                alerts.append({"type": "alert", "alert": "STALE_FEED", "source": source, "symbol": symbol,
                               "window_start": feed.last_end, "window_end": now_ns,
                               "detail": f"no record for {len(silent)} trading minutes since {feed.last_end}"})
        return alerts

    def feeds(self) -> dict[str, int | None]:
        """Each source's end of its last scored window."""
        return {s: f.last_end for s, f in self._feeds.items()}

    # --- state --------------------------------------------------------------------------------------
    def state(self) -> dict:
        """Plain data (lists, dicts, tuples of numbers and strings) for a Flink ValueState."""
        return {
            "feeds": {s: (f.last_end, f.last_vwap, f.stale_alerted, list(f.returns), list(f.volumes))
                      for s, f in self._feeds.items()},
            "vwaps": self._vwaps,
            "scored": {k: (_counts_state(w), (f.silent_before, f.anomalies, f.divergence), rev)
                       for k, (w, f, rev) in self._scored.items()},
        }

    def _restore(self, st: dict) -> None:
        for s, (last_end, last_vwap, alerted, returns, volumes) in st["feeds"].items():
            f = self._new_feed()
            f.last_end, f.last_vwap, f.stale_alerted = last_end, last_vwap, alerted
            f.returns.extend(returns)
            f.volumes.extend(volumes)
            self._feeds[s] = f
        self._vwaps = {int(k): dict(v) for k, v in st["vwaps"].items()}
        self._scored = {k: (_counts_from_state(c), _Found(*found), rev)
                        for k, (c, found, rev) in st["scored"].items()}

    # --- pieces ---------------------------------------------------------------------------------------
    def _new_feed(self) -> _Feed:
        return _Feed(returns=deque(maxlen=self.opts.history), volumes=deque(maxlen=self.opts.history))

    def _record(self, w: WindowCounts, found: _Found, revision: int) -> dict:
        in_window = self.session_minutes(w.symbol, w.window_start, w.window_end)
        traded = set(w.minutes_with_trades) if w.minutes_with_trades else (set(in_window) if w.valid else set())
        _, gaps_in = qm.completeness(traded, in_window)
        judged = list(found.silent_before) + list(in_window)
        completeness = qm.completeness(traded, judged)[0]
        rejected = sum(w.rejected.values())
        measures = qm.Measures(
            validity=qm.validity(w.valid, rejected),
            completeness=completeness,
            timeliness=(1.0 if w.latency_p99_ms is None
                        else qm.timeliness(w.latency_p99_ms, self.opts.latency_target_ms)),
            consistency=0.0 if found.divergence is not None and found.divergence > self.opts.divergence_bps else 1.0,
            calm=qm.calm(len(found.anomalies)),
        )
        return {
            "type": "quality", "source": w.source, "symbol": w.symbol,
            "window_start": w.window_start, "window_end": w.window_end, "revision": revision,
            "valid": w.valid, "rejected": rejected, "rejected_by_reason": dict(sorted(w.rejected.items())),
            "gap_minutes": len(found.silent_before) + len(gaps_in), "gaps": minute_ranges(found.silent_before, gaps_in),
            "completeness": round(measures.completeness, 4),
            "latency_p50_ms": w.latency_p50_ms, "latency_p99_ms": w.latency_p99_ms,
            "timeliness": round(measures.timeliness, 4),
            "divergence_bps": None if found.divergence is None else round(found.divergence, 2),
            "consistency": measures.consistency, "anomalies": [dict(a) for a in found.anomalies],
            "validity": round(measures.validity, 4), "volume": w.volume,
            "vwap": None if w.vwap is None else round(w.vwap, 9), "score": measures.score(),
        }

    def _silent_minutes(self, symbol: str, last_end: int | None, start: int) -> list[int]:
        if last_end is None or start <= last_end:
            return []
        return self.session_minutes(symbol, max(last_end, start - self.opts.lookback_ns), start)

    def _anomalies(self, feed: _Feed, w: WindowCounts) -> list[tuple]:
        """A price jump: the window's furthest trade from the previous window's VWAP (its high or low, so a
        single stray print counts as much as a level shift), judged against the feed's recent windows by
        MAD z-score. A volume spike: the window's volume against recent volumes."""
        found = []
        if w.vwap is not None and feed.last_vwap:
            moves = [(w.high if w.high is not None else w.vwap) / feed.last_vwap - 1,
                     (w.low if w.low is not None else w.vwap) / feed.last_vwap - 1]
            move = max(moves, key=abs)
            history = list(feed.returns)
            if qm.is_price_jump(history, abs(move), self.opts.jump_z):
                found.append((("kind", "PRICE_JUMP"), ("value", round(move, 6)),
                              ("zscore", _z(qm.mad_zscore(history, abs(move))))))
            feed.returns.append(abs(move))
        if w.valid:
            history = list(feed.volumes)
            if qm.is_volume_spike(history, w.volume, self.opts.spike_z):
                found.append((("kind", "VOLUME_SPIKE"), ("value", w.volume),
                              ("zscore", _z(qm.mad_zscore(history, w.volume)))))
            feed.volumes.append(w.volume)
        if w.vwap is not None:
            feed.last_vwap = w.vwap
        return found

    def _divergence(self, w: WindowCounts) -> float | None:
        if w.vwap is None:
            return None
        diffs = [qm.divergence_bps(w.vwap, p) for s, p in self._vwaps.get(w.window_start, {}).items()
                 if s != w.source]
        return max(diffs) if diffs else None

    def _forget_before(self, cutoff: int) -> None:
        for k in [k for k in self._scored if k[1] < cutoff]:
            del self._scored[k]
        for ws in [ws for ws in self._vwaps if ws < cutoff]:
            del self._vwaps[ws]

    def _alerts(self, w: WindowCounts, record: dict, silent_before: tuple[int, ...],
                stale_said: bool) -> list[dict]:
        """``stale_said``: :meth:`stale_alerts` already reported this silence (one alert per silence)."""
        alerts = []
        base = {"type": "alert", "source": w.source, "symbol": w.symbol, "window_start": w.window_start,
                "window_end": w.window_end}
        if record["score"] < self.opts.score_alert_below:
            alerts.append({**base, "alert": "LOW_SCORE", "detail": f"score {record['score']} < "
                                                                     f"{self.opts.score_alert_below}"})
        if len(silent_before) >= self.opts.stale_minutes and not stale_said:
            alerts.append({**base, "alert": "STALE_FEED",
                           "detail": f"{len(silent_before)} trading minutes without a record before this window"})
        total = record["valid"] + record["rejected"]
        if total and record["rejected"] / total > self.opts.dlq_rate_alert:
            alerts.append({**base, "alert": "DLQ_RATE",
                           "detail": f"{record['rejected']} of {total} records rejected"})
        return alerts


def minute_ranges(*minute_lists) -> list[list[int]]:
    """Sorted minute starts → ``[[start, end), …]`` runs of consecutive minutes: a record stays small
    however long the silence."""
    out: list[list[int]] = []
    for m in sorted(m for ms in minute_lists for m in ms):
        if out and out[-1][1] == m:
            out[-1][1] = m + MINUTE_NS
        else:
            out.append([m, m + MINUTE_NS])
    return out


def _z(z: float) -> float | str:
    """A z-score for JSON: rounded, or "inf" when the history was perfectly flat."""
    return round(z, 1) if abs(z) != float("inf") else ("inf" if z > 0 else "-inf")


def merge(w: WindowCounts, valid: int, rejected: dict[str, int], volume: float, notional: float,
          minutes: frozenset[int], high: float | None = None, low: float | None = None) -> WindowCounts:
    """``w`` with more trades and rejects added (latency percentiles stay those of the window's own)."""
    reasons = dict(w.rejected)
    for r, n in rejected.items():
        reasons[r] = reasons.get(r, 0) + n
    total_volume = w.volume + volume
    old_notional = (w.vwap or 0.0) * w.volume
    vwap = (old_notional + notional) / total_volume if total_volume else w.vwap
    highs = [x for x in (w.high, high) if x is not None]
    lows = [x for x in (w.low, low) if x is not None]
    return replace(w, valid=w.valid + valid, rejected=reasons, volume=total_volume, vwap=vwap,
                   minutes_with_trades=frozenset(w.minutes_with_trades | minutes),
                   high=max(highs) if highs else None, low=min(lows) if lows else None)


def _counts_state(w: WindowCounts) -> tuple:
    return (w.source, w.symbol, w.window_start, w.window_end, w.valid, dict(w.rejected), w.latency_p50_ms,
            w.latency_p99_ms, w.vwap, w.volume, sorted(w.minutes_with_trades), w.high, w.low)


def _counts_from_state(c: tuple) -> WindowCounts:
    """The inverse of ``_counts_state``."""
    source, symbol, window_start, window_end, valid, rejected, p50, p99, vwap, volume, minutes, *high_low = c
    return WindowCounts(source, symbol, window_start, window_end, valid, rejected, p50, p99, vwap, volume,
                        frozenset(minutes), *high_low)
