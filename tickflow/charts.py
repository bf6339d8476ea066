"""Charts of bars: candlesticks with volume, indicator overlays and the data-quality score, as a PNG file.

Pure rendering: plain pandas DataFrames in, a PNG file out. Nothing here reads a store; ``tickflow plot``
(tickflow/plot.py) loads the bars, the indicators and the quality scores and hands them over.

- ``bars``: one row per bar with ``bucket_start`` (a time, or ns since the epoch, UTC), ``open``, ``high``,
  ``low``, ``close`` and ``volume`` (numbers).
- ``indicators``: one row per bar with ``bucket_start`` and the columns of ``md.indicators`` that the
  chosen overlays draw (``sma_20``, ``bb_upper``/``bb_mid``/``bb_lower``, ``vwap_day``, …); rows without a
  bar, columns missing or without a value are left out, and the legend says which overlay had none.
- ``quality``: one row per scored window with ``window_start``, ``score`` and optionally ``source``; each
  bar shows the lowest score of the windows that start inside it, one line per source.

Candles are placed one per slot, in order, so the hours a market is closed leave no empty stretch.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

# overlay name (what `tickflow plot --indicators` takes) → the md.indicators columns it draws
OVERLAYS: dict[str, tuple[str, ...]] = {
    "sma_20": ("sma_20",),
    "sma_50": ("sma_50",),
    "ema_12": ("ema_12",),
    "ema_26": ("ema_26",),
    "bb_20": ("bb_upper", "bb_mid", "bb_lower"),
    "vwap": ("vwap_day",),
}
DEFAULT_OVERLAYS = ("sma_20", "bb_20", "vwap")
SIZE_PX = (1400, 900)
DPI = 100
LOW_SCORE = 80.0  # the data-quality job's default --score-alert-below (docs/data_quality.md)

UP, DOWN = "#26a69a", "#ef5350"
LINE_COLORS = {"sma_20": "#1f77b4", "sma_50": "#9467bd", "ema_12": "#ff7f0e", "ema_26": "#8c564b",
               "bb_20": "#7f7f7f", "vwap": "#e377c2"}
QUALITY_COLORS = ("#2ca02c", "#17becf", "#bcbd22", "#8c564b", "#9467bd")  # one per source, apart from the overlays
BAR_COLUMNS = ("bucket_start", "open", "high", "low", "close", "volume")


def _times(values) -> pd.Series:
    """UTC timestamps from datetimes, ISO text or integer nanoseconds."""
    return pd.Series(pd.to_datetime(values, utc=True)).reset_index(drop=True)


def _prepare_bars(bars: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lack the column(s) {', '.join(missing)}")
    if bars.empty:
        raise ValueError("no bars to draw")
    frame = pd.DataFrame({"bucket_start": _times(bars["bucket_start"])})
    for column in BAR_COLUMNS[1:]:
        frame[column] = pd.to_numeric(bars[column].reset_index(drop=True), errors="coerce").astype(float)
    return frame.sort_values("bucket_start", kind="stable").drop_duplicates("bucket_start", keep="last") \
        .reset_index(drop=True)


def _aligned_indicators(bars: pd.DataFrame, indicators: pd.DataFrame | None) -> pd.DataFrame:
    """The indicator columns row by row beside the bars (NaN where a bar has no record)."""
    if indicators is None or indicators.empty or "bucket_start" not in indicators.columns:
        return pd.DataFrame(index=bars.index)
    ind = indicators.copy()
    ind["bucket_start"] = _times(indicators["bucket_start"]).to_numpy()
    ind = ind.drop_duplicates("bucket_start", keep="last")
    merged = bars[["bucket_start"]].merge(ind, on="bucket_start", how="left")
    columns = {c for cols in OVERLAYS.values() for c in cols} & set(merged.columns)
    return pd.DataFrame({c: pd.to_numeric(merged[c], errors="coerce").astype(float) for c in sorted(columns)},
                        index=bars.index)


def quality_per_bar(bars: pd.DataFrame, quality: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Per source, the lowest score of the windows starting inside each bar (NaN for a bar without one).

    A window belongs to the bar whose start is the last one at or before the window's start; windows before
    the first bar or after the last bar's span are left out."""
    if quality is None or quality.empty or not {"window_start", "score"} <= set(quality.columns):
        return {}
    starts = bars["bucket_start"].to_numpy(dtype="datetime64[ns]")
    span = (starts[-1] - starts[-2]) if len(starts) > 1 else np.timedelta64(60, "s")
    windows = _times(quality["window_start"]).to_numpy(dtype="datetime64[ns]")
    scores = pd.to_numeric(quality["score"].reset_index(drop=True), errors="coerce").to_numpy(dtype=float)
    sources = quality["source"].astype(str).to_numpy() if "source" in quality.columns else np.full(len(windows), "")
    slot = np.searchsorted(starts, windows, side="right") - 1
    inside = (slot >= 0) & (windows < starts[-1] + span)
    out: dict[str, np.ndarray] = {}
    for source in sorted(set(sources[inside])):
        line = np.full(len(starts), np.nan)
        pick = inside & (sources == source)
        for i, score in zip(slot[pick], scores[pick]):
            line[i] = score if np.isnan(line[i]) else min(line[i], score)
        out[source] = line
    return out


def _time_labels(starts: pd.Series):
    multi_day = (starts.iloc[-1] - starts.iloc[0]) >= pd.Timedelta(days=1)
    fmt = "%m-%d %H:%M" if multi_day else "%H:%M"

    def label(x: float, _pos: int) -> str:
        i = int(round(x))
        return starts.iloc[i].strftime(fmt) if 0 <= i < len(starts) else ""
    return FuncFormatter(label)


def render(bars: pd.DataFrame, out: Path | str, *, indicators: pd.DataFrame | None = None,
           quality: pd.DataFrame | None = None, overlays: Sequence[str] = DEFAULT_OVERLAYS, title: str = "",
           size_px: tuple[int, int] = SIZE_PX, dpi: int = DPI) -> Path:
    """Draw the chart and write it to ``out`` (a PNG of exactly ``size_px``, folders created); returns the
    path. Raises ValueError for no bars, bars without the OHLCV columns or an unknown overlay."""
    unknown = [o for o in overlays if o not in OVERLAYS]
    if unknown:
        raise ValueError(f"unknown indicator(s) {', '.join(unknown)} (choose from {', '.join(OVERLAYS)})")
    frame = _prepare_bars(bars)
    ind = _aligned_indicators(frame, indicators)
    scores = quality_per_bar(frame, quality)
    x = np.arange(len(frame))
    o, h, l, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    colors = [UP if up else DOWN for up in c >= o]

    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 1, height_ratios=[5, 1.3, 1.3])
    price = fig.add_subplot(grid[0])
    volume = fig.add_subplot(grid[1], sharex=price)
    panel = fig.add_subplot(grid[2], sharex=price)

    # candles: wicks, then bodies (a flat bar still shows a thin body)
    width = 0.7
    price.vlines(x, l, h, colors=colors, linewidth=0.8, zorder=2)
    span = float(np.nanmax(h) - np.nanmin(l)) or 1.0
    body = np.maximum(np.abs(c - o), span * 0.002)
    price.bar(x, body, width, bottom=np.minimum(o, c), color=colors, edgecolor=colors, linewidth=0.5, zorder=3)

    missing = []
    for name in overlays:
        columns = OVERLAYS[name]
        if not all(col in ind.columns and ind[col].notna().any() for col in columns):
            missing.append(name)
            continue
        color = LINE_COLORS.get(name, "#333333")
        if name == "bb_20":
            price.fill_between(x, ind["bb_lower"], ind["bb_upper"], color=color, alpha=0.12, linewidth=0,
                               label="Bollinger 20, 2σ", zorder=1)
            for col in ("bb_upper", "bb_lower"):
                price.plot(x, ind[col], color=color, linewidth=0.7, zorder=1)
            price.plot(x, ind["bb_mid"], color=color, linewidth=0.7, linestyle="--", zorder=1)
        else:
            label = "VWAP (day)" if name == "vwap" else name.replace("_", " ").upper()
            price.plot(x, ind[columns[0]], color=color, linewidth=1.2, label=label, zorder=4)
    handles, labels = price.get_legend_handles_labels()
    if handles or missing:
        price.legend(handles, labels, loc="upper left", fontsize=9, framealpha=0.85,
                     title=f"no values: {', '.join(missing)}" if missing else None, title_fontsize=8)
    price.set_ylabel("price")
    price.grid(True, alpha=0.25)
    if title:
        price.set_title(title, loc="left", fontsize=12)

    volume.bar(x, v, width, color=colors, alpha=0.8)
    volume.set_ylabel("volume")
    volume.grid(True, alpha=0.25)

    if scores:
        for n, (source, line) in enumerate(scores.items()):
            panel.plot(x, line, marker=".", markersize=3, linewidth=0.9, label=source or "score",
                       color=QUALITY_COLORS[n % len(QUALITY_COLORS)])
        panel.axhline(LOW_SCORE, color=DOWN, linewidth=0.8, linestyle=":", label=f"LOW_SCORE below {LOW_SCORE:g}")
        panel.legend(loc="lower left", fontsize=8, frameon=False, ncols=len(scores) + 1)
    else:
        panel.text(0.5, 0.5, "no quality scores for these bars", transform=panel.transAxes, ha="center",
                   va="center", color="#777777")
    panel.set_ylim(0, 105)
    panel.set_ylabel("quality")
    panel.grid(True, alpha=0.25)

    price.set_xlim(-1, len(frame))
    panel.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    panel.xaxis.set_major_formatter(_time_labels(frame["bucket_start"]))
    panel.set_xlabel("UTC")
    for ax in (price, volume):
        ax.tick_params(labelbottom=False)

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi)
    return path
