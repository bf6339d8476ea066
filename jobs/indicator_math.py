"""Technical indicators as O(1)-per-bar state machines over a (symbol, timeframe) bar series.

Each indicator is a small class with ``update(bar) -> value or None`` (None until its warm-up is
complete, never a partial guess) and plain-data state (``state()`` / ``restore()``), so the Flink operator
can snapshot it per bar and replay from a revised bar. The arithmetic follows TA-Lib's definitions and
seeds step for step (the unit tests compare to TA-Lib to 1e-9):

- SMA n: running sum over a ring buffer of n closes.
- EMA n: seeded with the SMA of the first n closes, then ``ema += (close - ema) * 2/(n+1)``.
- MACD (12, 26, 9): as TA-Lib, both EMAs start at bar 26 (the fast one seeded with the mean of the
  last 12 closes there, the slow one with the mean of all 26); the signal is an EMA 9 of the MACD line,
  seeded with the mean of its first 9 values; histogram = line − signal.
- RSI 14 (Wilder): mean gain and loss of the first 14 changes, then Wilder smoothing.
- Bollinger (20, 2): SMA 20 ± 2 population standard deviations (running sums of x and x²).
- ATR 14 (Wilder): true range from the second bar; mean of the first 14, then Wilder smoothing.
- Stochastic (14, 3, 3) slow %K/%D (indicator set 2): fast %K over 14 bars' high/low, smoothed by SMA 3,
  %D its SMA 3.
- VWAP anchored to the trading day: Σ(bar vwap × bar volume) / Σ volume over the bars of the current
  trading day so far (the bar's own trade-weighted vwap, not a typical-price estimate).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class BarPoint:
    """What the indicators read from a bar (floats: indicators are analytics, bars stay exact)."""

    high: float
    low: float
    close: float
    volume: float
    vwap: float
    day: int  # the trading day's start (ns), for the anchored VWAP


class _Window:
    """Ring buffer of the last n values with a running sum (and sum of squares)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: deque[float] = deque()
        self.total = 0.0
        self.total_sq = 0.0

    def push(self, x: float) -> None:
        self.values.append(x)
        self.total += x
        self.total_sq += x * x
        if len(self.values) > self.n:
            old = self.values.popleft()
            self.total -= old
            self.total_sq -= old * old

    @property
    def full(self) -> bool:
        return len(self.values) == self.n

    def state(self) -> list:
        return [list(self.values), self.total, self.total_sq]

    def restore(self, s: list) -> None:
        self.values, self.total, self.total_sq = deque(s[0]), s[1], s[2]


class SMA:
    def __init__(self, n: int) -> None:
        self.w = _Window(n)

    def update(self, x: float) -> float | None:
        self.w.push(x)
        return self.w.total / self.w.n if self.w.full else None

    def state(self):
        return self.w.state()

    def restore(self, s) -> None:
        self.w.restore(s)


class EMA:
    """TA-Lib's EMA: the SMA of the first n values, then exponential smoothing with k = 2/(n+1)."""

    def __init__(self, n: int) -> None:
        self.n, self.k = n, 2.0 / (n + 1)
        self.seed_sum, self.count = 0.0, 0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is None:
            self.seed_sum += x
            self.count += 1
            if self.count == self.n:
                self.value = self.seed_sum / self.n
            return self.value
        self.value = (x - self.value) * self.k + self.value
        return self.value

    def seed(self, value: float) -> None:
        self.value = value

    def state(self):
        return [self.seed_sum, self.count, self.value]

    def restore(self, s) -> None:
        self.seed_sum, self.count, self.value = s


class MACD:
    """MACD (fast, slow, signal) aligned as TA-Lib aligns it: both EMAs begin at bar ``slow``."""

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.fast_n, self.slow_n = fast, slow
        self.recent = _Window(fast)
        self.fast, self.slow, self.signal = EMA(fast), EMA(slow), EMA(signal)
        self.count = 0

    def update(self, x: float) -> tuple[float, float, float] | None:
        self.count += 1
        self.recent.push(x)
        slow = self.slow.update(x)
        if slow is None:
            return None
        if self.count == self.slow_n:
            fast = self.recent.total / self.fast_n
            self.fast.seed(fast)
        else:
            fast_value = self.fast.update(x)
            assert fast_value is not None  # seeded at bar slow_n, so it has a value on every later bar
            fast = fast_value
        line = fast - slow
        signal = self.signal.update(line)
        return None if signal is None else (line, signal, line - signal)

    def state(self):
        return [self.recent.state(), self.fast.state(), self.slow.state(), self.signal.state(), self.count]

    def restore(self, s) -> None:
        self.recent.restore(s[0])
        self.fast.restore(s[1])
        self.slow.restore(s[2])
        self.signal.restore(s[3])
        self.count = s[4]


class RSI:
    """Wilder's RSI as TA-Lib computes it (unstable period 0)."""

    def __init__(self, n: int = 14) -> None:
        self.n = n
        self.prev: float | None = None
        self.gain = self.loss = 0.0
        self.changes = 0

    def update(self, x: float) -> float | None:
        if self.prev is None:
            self.prev = x
            return None
        change, self.prev = x - self.prev, x
        gain, loss = (change, 0.0) if change > 0 else (0.0, -change)
        self.changes += 1
        if self.changes < self.n:
            self.gain += gain
            self.loss += loss
            return None
        if self.changes == self.n:
            self.gain = (self.gain + gain) / self.n
            self.loss = (self.loss + loss) / self.n
        else:
            self.gain = (self.gain * (self.n - 1) + gain) / self.n
            self.loss = (self.loss * (self.n - 1) + loss) / self.n
        total = self.gain + self.loss
        return 100.0 * self.gain / total if total != 0 else 0.0

    def state(self):
        return [self.prev, self.gain, self.loss, self.changes]

    def restore(self, s) -> None:
        self.prev, self.gain, self.loss, self.changes = s


class Bollinger:
    """SMA n ± k population standard deviations."""

    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        self.w, self.k = _Window(n), k

    def update(self, x: float) -> tuple[float, float, float] | None:
        self.w.push(x)
        if not self.w.full:
            return None
        mean = self.w.total / self.w.n
        variance = self.w.total_sq / self.w.n - mean * mean
        sd = math.sqrt(variance) if variance > 0 else 0.0
        return mean + self.k * sd, mean, mean - self.k * sd

    def state(self):
        return self.w.state()

    def restore(self, s) -> None:
        self.w.restore(s)


class ATR:
    """Wilder's average true range as TA-Lib computes it."""

    def __init__(self, n: int = 14) -> None:
        self.n = n
        self.prev_close: float | None = None
        self.sum = 0.0
        self.count = 0
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        if self.prev_close is None:
            self.prev_close = close
            return None
        tr = max(high, self.prev_close) - min(low, self.prev_close)
        self.prev_close = close
        if self.value is None:
            self.sum += tr
            self.count += 1
            if self.count == self.n:
                self.value = self.sum / self.n
            return self.value
        self.value = (self.value * (self.n - 1) + tr) / self.n
        return self.value

    def state(self):
        return [self.prev_close, self.sum, self.count, self.value]

    def restore(self, s) -> None:
        self.prev_close, self.sum, self.count, self.value = s


class Stochastic:
    """Slow stochastic (k, smooth k, d): fast %K over k bars, %K = SMA(fast %K), %D = SMA(%K)."""

    def __init__(self, k: int = 14, smooth: int = 3, d: int = 3) -> None:
        self.k = k
        self.highs: deque[float] = deque(maxlen=k)
        self.lows: deque[float] = deque(maxlen=k)
        self.slow_k, self.slow_d = SMA(smooth), SMA(d)

    def update(self, high: float, low: float, close: float) -> tuple[float, float] | None:
        self.highs.append(high)
        self.lows.append(low)
        if len(self.highs) < self.k:
            return None
        hh, ll = max(self.highs), min(self.lows)
        fast_k = 100.0 * (close - ll) / (hh - ll) if hh != ll else 0.0
        k = self.slow_k.update(fast_k)
        if k is None:
            return None
        d = self.slow_d.update(k)
        return None if d is None else (k, d)

    def state(self):
        return [list(self.highs), list(self.lows), self.slow_k.state(), self.slow_d.state()]

    def restore(self, s) -> None:
        self.highs, self.lows = deque(s[0], maxlen=self.k), deque(s[1], maxlen=self.k)
        self.slow_k.restore(s[2])
        self.slow_d.restore(s[3])


class AnchoredVWAP:
    """Σ(vwap × volume) / Σ volume since the start of the bar's trading day."""

    def __init__(self) -> None:
        self.day: int | None = None
        self.notional = self.volume = 0.0

    def update(self, vwap: float, volume: float, day: int) -> float | None:
        if day != self.day:
            self.day, self.notional, self.volume = day, 0.0, 0.0
        self.notional += vwap * volume
        self.volume += volume
        return self.notional / self.volume if self.volume > 0 else None

    def state(self):
        return [self.day, self.notional, self.volume]

    def restore(self, s) -> None:
        self.day, self.notional, self.volume = s


class _Stateful(Protocol):
    """What IndicatorSet snapshots: every indicator's plain-data state."""

    def state(self) -> Any: ...

    def restore(self, s: Any) -> None: ...


class IndicatorSet:
    """Every indicator of one series. ``version`` 1 is the original set; 2 adds the stochastic.

    State is plain data keyed by indicator name, so a newer set restores an older set's state and starts
    only its new indicators from their warm-up.
    """

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.sma_20, self.sma_50, self.ema_12, self.ema_26 = SMA(20), SMA(50), EMA(12), EMA(26)
        self.macd, self.rsi_14, self.bollinger = MACD(), RSI(14), Bollinger(20, 2.0)
        self.atr_14, self.vwap_day = ATR(14), AnchoredVWAP()
        self.stoch = Stochastic(14, 3, 3) if version >= 2 else None
        # the same objects by state name, in the order their state is written
        self.parts: dict[str, _Stateful] = {
            "sma_20": self.sma_20, "sma_50": self.sma_50, "ema_12": self.ema_12, "ema_26": self.ema_26,
            "macd": self.macd, "rsi_14": self.rsi_14, "bollinger": self.bollinger, "atr_14": self.atr_14,
            "vwap_day": self.vwap_day,
        }
        if self.stoch is not None:
            self.parts["stoch"] = self.stoch

    def update(self, p: BarPoint) -> dict[str, float | None]:
        c = p.close
        out: dict[str, float | None] = {
            "sma_20": self.sma_20.update(c), "sma_50": self.sma_50.update(c),
            "ema_12": self.ema_12.update(c), "ema_26": self.ema_26.update(c),
            "rsi_14": self.rsi_14.update(c),
            "atr_14": self.atr_14.update(p.high, p.low, c),
            "vwap_day": self.vwap_day.update(p.vwap, p.volume, p.day),
        }
        macd = self.macd.update(c)
        out["macd"], out["macd_signal"], out["macd_hist"] = macd if macd else (None, None, None)
        bb = self.bollinger.update(c)
        out["bb_upper"], out["bb_mid"], out["bb_lower"] = bb if bb else (None, None, None)
        if self.stoch is not None:
            st = self.stoch.update(p.high, p.low, c)
            out["stoch_k"], out["stoch_d"] = st if st else (None, None)
        return out

    def state(self) -> dict:
        return {name: part.state() for name, part in self.parts.items()}

    def restore(self, s: dict) -> None:
        for name, part in self.parts.items():
            if name in s:
                part.restore(s[name])
