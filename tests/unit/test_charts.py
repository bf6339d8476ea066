"""`tickflow plot`'s drawing (tickflow/charts.py), its loading helpers (tickflow/plot.py) and its CLI errors."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tickflow import charts, plot
from tickflow.processes import port_open

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def series(n: int = 90, start: str = "2013-09-02 12:00") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Bars (a random walk with flat bars among them), their indicators and one quality score per minute."""
    rng = np.random.default_rng(7)
    t = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    close = 1640 + np.cumsum(rng.normal(0, 0.5, n)).round(2)
    open_ = np.r_[close[0], close[:-1]]
    open_[::10] = close[::10]  # flat bars (open = close) are valid and must still draw
    bars = pd.DataFrame({"bucket_start": t, "open": open_, "high": np.maximum(open_, close) + 0.25,
                         "low": np.minimum(open_, close) - 0.25, "close": close,
                         "volume": rng.integers(50, 900, n)})
    mean = pd.Series(close).rolling(20).mean()
    std = pd.Series(close).rolling(20).std(ddof=0)
    indicators = pd.DataFrame({"bucket_start": t, "sma_20": mean, "sma_50": np.nan, "bb_mid": mean,
                               "bb_upper": mean + 2 * std, "bb_lower": mean - 2 * std,
                               "vwap_day": pd.Series(close).expanding().mean()})
    quality = pd.DataFrame({"source": "replay", "window_start": t.asi8, "score": 100 - rng.exponential(2, n)})
    return bars, indicators, quality


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def pixels_near(path, hex_color: str, tolerance: int = 12) -> int:
    """How many pixels of the image are within ``tolerance`` of ``hex_color`` in every channel."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    target = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target) <= tolerance).all(axis=2).sum())


def test_a_full_chart_is_a_png_of_the_default_size(tmp_path):
    bars, indicators, quality = series()
    out = charts.render(bars, tmp_path / "deep" / "es.png", indicators=indicators, quality=quality, title="ES 1m")
    assert out == tmp_path / "deep" / "es.png"
    assert png_size(out) == charts.SIZE_PX
    assert 10_000 < out.stat().st_size < 300_000


def test_the_size_is_the_one_asked_for(tmp_path):
    bars, _, _ = series(30)
    assert png_size(charts.render(bars, tmp_path / "small.png", size_px=(800, 500))) == (800, 500)


def test_candles_volume_overlays_and_quality_are_drawn(tmp_path):
    bars, indicators, quality = series()
    full = charts.render(bars, tmp_path / "full.png", indicators=indicators, quality=quality)
    bare = charts.render(bars, tmp_path / "bare.png", overlays=())
    assert pixels_near(full, charts.UP) > 500 and pixels_near(full, charts.DOWN) > 500  # candles and volume
    assert pixels_near(full, charts.LINE_COLORS["sma_20"], 20) > 200
    assert pixels_near(full, charts.LINE_COLORS["vwap"], 20) > 200
    assert pixels_near(full, charts.QUALITY_COLORS[0], 20) > 200
    for color in (charts.LINE_COLORS["sma_20"], charts.LINE_COLORS["vwap"], charts.QUALITY_COLORS[0]):
        assert pixels_near(bare, color, 20) < 20


def test_missing_indicators_and_quality_still_make_a_chart(tmp_path):
    bars, indicators, quality = series(40)
    for name, kwargs in {"none": {}, "empty": {"indicators": indicators.iloc[0:0], "quality": quality.iloc[0:0]},
                         "no_values": {"indicators": indicators[["bucket_start", "sma_50"]]},
                         "other_times": {"quality": quality.assign(window_start=quality.window_start - 10**15)}
                         }.items():
        out = charts.render(bars, tmp_path / f"{name}.png", overlays=("sma_20", "sma_50", "bb_20", "vwap"), **kwargs)
        assert png_size(out) == charts.SIZE_PX, name
        assert pixels_near(out, charts.QUALITY_COLORS[0], 20) < 20, name


def test_bars_in_any_order_with_decimal_text_are_drawn(tmp_path):
    bars, _, _ = series(20)
    shuffled = bars.sample(frac=1, random_state=1).astype({"open": str, "close": str})
    assert png_size(charts.render(shuffled, tmp_path / "x.png")) == charts.SIZE_PX


def test_no_bars_or_an_unknown_overlay_is_refused(tmp_path):
    bars, _, _ = series(5)
    with pytest.raises(ValueError, match="no bars"):
        charts.render(bars.iloc[0:0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="close"):
        charts.render(bars.drop(columns=["close"]), tmp_path / "x.png")
    with pytest.raises(ValueError, match="unknown indicator"):
        charts.render(bars, tmp_path / "x.png", overlays=("rsi_99",))
    assert not (tmp_path / "x.png").exists()


def test_quality_per_bar_is_the_lowest_score_of_the_windows_in_each_bar_per_source():
    t = pd.date_range("2013-09-02 12:00", periods=3, freq="5min", tz="UTC")
    bars = pd.DataFrame({"bucket_start": t})
    minute = 60 * 10**9
    first = t[0].value
    quality = pd.DataFrame({
        "source": ["a", "a", "a", "b", "a", "a"],
        "window_start": [first, first + minute, first + 5 * minute, first, first - minute, first + 15 * minute],
        "score": [90.0, 70.0, 99.0, 50.0, 1.0, 2.0],  # the last two are before the first bar / after the last
    })
    lines = charts.quality_per_bar(bars, quality)
    assert set(lines) == {"a", "b"}
    np.testing.assert_array_equal(lines["a"], [70.0, 99.0, np.nan])
    np.testing.assert_array_equal(lines["b"], [50.0, np.nan, np.nan])
    assert charts.quality_per_bar(bars, None) == {}


def test_quality_scores_keep_the_final_revision_of_the_symbols_windows_in_range():
    start, end = datetime(2013, 9, 2, 12, tzinfo=UTC), datetime(2013, 9, 2, 13, tzinfo=UTC)
    ns = int(start.timestamp()) * 10**9
    records = [
        {"source": "replay", "symbol": "ES", "window_start": ns, "revision": 0, "score": 80.0},
        {"source": "replay", "symbol": "ES", "window_start": ns, "revision": 1, "score": 95.0},
        {"source": "replay", "symbol": "NQ", "window_start": ns, "revision": 0, "score": 10.0},
        {"source": "replay", "symbol": "ES", "window_start": ns - 60 * 10**9, "revision": 0, "score": 20.0},
        {"source": "replay", "symbol": "ES", "window_start": ns + 3600 * 10**9, "revision": 0, "score": 30.0},
    ]
    frame = plot.quality_scores(records, "ES", start, end)
    assert frame.to_dict("records") == [{"source": "replay", "window_start": pd.Timestamp(start), "score": 95.0}]


def test_times_and_overlays_are_parsed_or_refused_in_words():
    assert plot.parse_time("2013-09-02") == datetime(2013, 9, 2, tzinfo=UTC)
    assert plot.parse_time("2013-09-02T14:30Z") == datetime(2013, 9, 2, 14, 30, tzinfo=UTC)
    assert plot.parse_time("2013-09-02T16:30+02:00") == datetime(2013, 9, 2, 14, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO date"):
        plot.parse_time("yesterday")
    assert plot.parse_overlays("sma_20, bb_20,vwap") == ("sma_20", "bb_20", "vwap")
    assert plot.parse_overlays("") == ()
    with pytest.raises(ValueError, match="unknown indicator"):
        plot.parse_overlays("sma_20,macd")


# --- the command line: one line on stderr, a non-zero exit ----------------------------------------------

def tickflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tickflow.cli", *args], capture_output=True, text=True,
                          timeout=60)


def one_line(stderr: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("args, code, message", [
    (["--from", "2013-13-01"], 2, "tickflow: plot: '2013-13-01' is not an ISO date or time"),
    (["--from", "2013-09-03", "--to", "2013-09-02"], 2, "tickflow: plot: --from 2013-09-03 is not before --to"),
    (["--indicators", "sma_20,rsi"], 2, "tickflow: plot: unknown indicator(s) rsi"),
    (["--timeframe", "2m"], 2, "invalid choice: '2m'"),
    (["--bars", "-1"], 2, "tickflow: plot: --bars must be 0"),
])
def test_plot_argument_errors(args, code, message):
    r = tickflow("plot", "--symbol", "ES", *args)
    assert r.returncode == code
    assert message in one_line(r.stderr)
    assert r.stdout == ""


def test_plot_needs_a_symbol():
    r = tickflow("plot")
    assert r.returncode == 2
    assert "--symbol" in one_line(r.stderr)


def test_plot_with_postgresql_unreachable(tmp_path):
    assert not port_open("127.0.0.1", 1)
    r = tickflow("plot", "--symbol", "ES", "--dsn", "host=127.0.0.1 port=1 dbname=x user=x password=x",
                 "--out", str(tmp_path / "x.png"))
    assert r.returncode == 1
    assert one_line(r.stderr).startswith("tickflow: plot: cannot reach PostgreSQL")
    assert not (tmp_path / "x.png").exists()
