"""Each indicator against TA-Lib on real daily bars (AAPL 2000–2013 from bokeh-sampledata), to 1e-9
after warm-up, and None (never a guess) before it."""
import math

import numpy as np
import pytest
import talib
from bokeh_sampledata.stocks import AAPL

from jobs.indicator_math import (
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    AnchoredVWAP,
    BarPoint,
    Bollinger,
    IndicatorSet,
    Stochastic,
)

HIGH = np.array(AAPL["high"], dtype=float)
LOW = np.array(AAPL["low"], dtype=float)
CLOSE = np.array(AAPL["close"], dtype=float)
VOLUME = np.array(AAPL["volume"], dtype=float)


def run(indicator, *series):
    return [indicator.update(*values) for values in zip(*series)]


def assert_matches(ours, reference, what):
    reference = np.asarray(reference)
    warm = int(np.argmax(~np.isnan(reference)))
    assert all(v is None for v in ours[:warm]), f"{what}: a value before warm-up"
    assert all(v is not None for v in ours[warm:]), f"{what}: missing after warm-up"
    diff = np.max(np.abs(np.array(ours[warm:], dtype=float) - reference[warm:]))
    assert diff <= 1e-9, f"{what}: max difference {diff}"


@pytest.mark.parametrize("n", [20, 50])
def test_sma(n):
    assert_matches(run(SMA(n), CLOSE), talib.SMA(CLOSE, n), f"SMA {n}")


@pytest.mark.parametrize("n", [12, 26])
def test_ema(n):
    assert_matches(run(EMA(n), CLOSE), talib.EMA(CLOSE, n), f"EMA {n}")


def test_macd():
    line, signal, hist = talib.MACD(CLOSE, 12, 26, 9)
    ours = run(MACD(12, 26, 9), CLOSE)
    for i, (name, ref) in enumerate([("line", line), ("signal", signal), ("hist", hist)]):
        assert_matches([None if v is None else v[i] for v in ours], ref, f"MACD {name}")


def test_rsi():
    assert_matches(run(RSI(14), CLOSE), talib.RSI(CLOSE, 14), "RSI 14")


def test_bollinger():
    upper, middle, lower = talib.BBANDS(CLOSE, 20, 2.0, 2.0, 0)
    ours = run(Bollinger(20, 2.0), CLOSE)
    for i, (name, ref) in enumerate([("upper", upper), ("middle", middle), ("lower", lower)]):
        assert_matches([None if v is None else v[i] for v in ours], ref, f"Bollinger {name}")


def test_atr():
    assert_matches(run(ATR(14), HIGH, LOW, CLOSE), talib.ATR(HIGH, LOW, CLOSE, 14), "ATR 14")


def test_stochastic():
    k, d = talib.STOCH(HIGH, LOW, CLOSE, 14, 3, 0, 3, 0)
    ours = run(Stochastic(14, 3, 3), HIGH, LOW, CLOSE)
    assert_matches([None if v is None else v[0] for v in ours], k, "stoch %K")
    assert_matches([None if v is None else v[1] for v in ours], d, "stoch %D")


def test_anchored_vwap_resets_each_trading_day_and_equals_a_direct_computation():
    vw = AnchoredVWAP()
    bars = [(100.0, 10.0, 1), (102.0, 30.0, 1), (101.0, 20.0, 1), (50.0, 5.0, 2), (52.0, 15.0, 2)]
    got = [vw.update(p, v, day) for p, v, day in bars]
    for i, (_, _, day) in enumerate(bars):
        same = [(p, v) for p, v, d in bars[: i + 1] if d == day]
        assert math.isclose(got[i], sum(p * v for p, v in same) / sum(v for _, v in same), abs_tol=1e-12)


def test_state_round_trip_continues_exactly():
    """Snapshot after 300 bars, restore into a fresh set, continue: identical to one uninterrupted run."""
    points = [BarPoint(h, l, c, v, c, i // 50) for i, (h, l, c, v) in enumerate(zip(HIGH, LOW, CLOSE, VOLUME))]
    whole = IndicatorSet(2)
    expected = [whole.update(p) for p in points]
    first = IndicatorSet(2)
    for p in points[:300]:
        first.update(p)
    second = IndicatorSet(2)
    second.restore(first.state())
    assert [second.update(p) for p in points[300:]] == expected[300:]


def test_a_newer_set_restores_an_older_state_and_warms_up_only_its_new_indicator():
    points = [BarPoint(h, l, c, v, c, 0) for h, l, c, v in zip(HIGH, LOW, CLOSE, VOLUME)][:200]
    v1 = IndicatorSet(1)
    for p in points[:100]:
        v1.update(p)
    v2 = IndicatorSet(2)
    v2.restore(v1.state())
    out = [v2.update(p) for p in points[100:]]
    reference = IndicatorSet(2)
    ref = [reference.update(p) for p in points][100:]
    assert [o["sma_50"] for o in out] == [r["sma_50"] for r in ref]
    # its own warm-up from the restore on: 14 bars, then 3 for %K and 3 more for %D (TA-Lib lookback 17)
    assert out[16]["stoch_k"] is None and out[17]["stoch_k"] is not None
    assert "stoch_k" not in v1.update(points[100])
