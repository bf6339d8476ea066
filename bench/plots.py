"""Plots of the benchmark of record, drawn from bench/results when bench/record.py renders (``--render-only``
too) and linked from bench/README.md:

- ``throughput.png``: each throughput figure of the latest runs beside its reference or target (the
  processor against the passthrough job, the pandas ceiling and the 100,000 ticks/s target; the
  data-quality job against the processor; …), on a log scale;
- ``configurations.png``: throughput by configuration — the processor beside the passthrough job, bare
  Flink SQL and pandas over the same workload in one run (bench/processor_throughput.py), and the
  processor by parallelism and TaskManagers on the session cluster (bench/processor_scaling.py);
- ``soak.png``: the pipeline soak over time, from ``pipeline_soak_series.json`` (bench/soak.py): the bar
  delay of every measured bar, the TaskManager's memory and the checkpointed state.

Plain matplotlib (Agg, no display); a figure whose data is absent is not drawn, and the caller is told.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

THROUGHPUT_PNG = "throughput.png"
CONFIGURATIONS_PNG = "configurations.png"
SOAK_PNG = "soak.png"
SOAK_SERIES = "pipeline_soak_series.json"
TARGET_TICKS_PER_S = 100_000  # the processor's and the replay's targets (bench/record.py)
DPI = 100
LABEL_BOX = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


@dataclass(frozen=True)
class Measure:
    """One throughput figure and what it is read against: (label, value) references and targets."""

    label: str
    value: float
    unit: str
    references: list[tuple[str, float]] = field(default_factory=list)
    targets: list[tuple[str, float]] = field(default_factory=list)


def _get(result: Mapping[str, Any] | None, path: str) -> Any:
    value: Any = result
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _latest(runs: Mapping[str, Sequence[Mapping[str, Any]]], name: str) -> Mapping[str, Any] | None:
    found = runs.get(name) or []
    return found[-1] if found else None


def throughput_measures(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Measure]:
    """The throughput figures of the latest runs with their references; a figure not recorded is left out,
    and so is a reference not recorded."""
    p, f, q, i, s, c = (_latest(runs, n) for n in ("processor_throughput", "first_job_throughput",
                                                   "quality_throughput", "indicators_throughput",
                                                   "storage_throughput", "connector_throughput"))
    processor = _get(p, "sustained_ticks_per_s")

    def refs(*pairs: tuple[str, Any]) -> list[tuple[str, float]]:
        return [(label, float(v)) for label, v in pairs if _number(v)]

    candidates = [
        Measure("market data processor", _get(p, "sustained_ticks_per_s"), "ticks/s",
                refs(("passthrough job", _get(p, "passthrough.sustained_records_per_s")
                      or _get(f, "sustained_records_per_s")),
                     ("bare Flink SQL", _get(p, "bare_sql.sustained_ticks_per_s")),
                     ("pandas batch", _get(p, "pandas_ticks_per_s"))),
                [("target", TARGET_TICKS_PER_S)]),
        Measure("passthrough job (Kafka → Flink → Kafka)", _get(f, "sustained_records_per_s"), "records/s"),
        Measure("data quality", _get(q, "sustained_ticks_per_s"), "ticks/s",
                refs(("processor", processor), ("pandas batch", _get(q, "pandas_ticks_per_s")))),
        Measure("indicators", _get(i, "sustained_bars_per_s"), "bars/s",
                refs(("same code, one Python process", _get(i, "pure_python_bars_per_s")))),
        Measure("storage: trades → PostgreSQL", _get(s, "trades_rows_per_s"), "rows/s",
                refs(("processor", processor))),
        Measure("storage: bars → PostgreSQL", _get(s, "bars_rows_per_s"), "rows/s"),
        Measure("tickflow replay → Kafka", _get(c, "replay.per_s"), "trades/s", [],
                [("target", TARGET_TICKS_PER_S)]),
    ]
    providers = _get(c, "providers")
    for entry in providers if isinstance(providers, list) else []:
        candidates.append(Measure(f"connector: {_get(entry, 'provider')} → Kafka", _get(entry, "records_per_s"),
                                  "records/s"))
    return [m for m in candidates if _number(m.value)]


def configuration_measures(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Measure]:
    """Throughput by configuration: the four computations of the latest processor_throughput run (same
    workload, same run) and each configuration of the latest processor_scaling run; the processor's carry
    the 100,000 ticks/s target. Figures not recorded are left out."""
    p, sc = _latest(runs, "processor_throughput"), _latest(runs, "processor_scaling")
    target = [("target", float(TARGET_TICKS_PER_S))]
    where = f"MiniCluster, parallelism {_get(p, 'parallelism')}" if _get(p, "parallelism") else "MiniCluster"
    candidates = [
        Measure(f"passthrough job ({where})", _get(p, "passthrough.sustained_records_per_s"), "records/s"),
        Measure(f"bare Flink SQL 1m OHLCV ({where})", _get(p, "bare_sql.sustained_ticks_per_s"), "ticks/s"),
        Measure(f"processor ({where})", _get(p, "sustained_ticks_per_s") if _get(p, "passthrough") else None,
                "ticks/s", [], target),
        Measure("pandas, one process (batch)", _get(p, "pandas.ticks_per_s"), "ticks/s"),
    ]
    configs = _get(sc, "configurations")
    for c in configs if isinstance(configs, list) else []:
        candidates.append(Measure(f"processor, session cluster: {_get(c, 'label')}",
                                  _get(c, "sustained_ticks_per_s"), "ticks/s", [], target))
    return [m for m in candidates if _number(m.value)]


def _compact(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k" if value >= 1e4 else f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def draw_throughput(measures: Sequence[Measure], out: Path, when: str = "",
                    title: str = "Throughput of the latest recorded runs against their references") -> Path:
    """Horizontal bars, one per measure (top to bottom), its references as dots and targets as bars' ends."""
    height = 1.2 + 0.55 * len(measures)
    fig = Figure(figsize=(11, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(len(measures)))[::-1]
    ref_shown = target_shown = False
    for y, m in zip(ys, measures):
        ax.barh(y, m.value, height=0.55, color="#1f77b4")
        ax.text(m.value * 1.06, y - 0.12, f"{_compact(m.value)} {m.unit}", va="center", fontsize=8,
                color="#1f77b4", fontweight="bold")
        for label, value in m.references:
            ax.plot([value], [y], marker="D", color="#555555", markersize=5, linestyle="none",
                    label=None if ref_shown else "reference")
            ref_shown = True
            ax.annotate(f"{label} {_compact(value)}", (value, y), xytext=(0, 8), textcoords="offset points",
                        ha="center", fontsize=7, color="#555555", bbox=LABEL_BOX)
        for label, value in m.targets:
            ax.plot([value, value], [y - 0.38, y + 0.38], color="#d62728", linewidth=2,
                    label=None if target_shown else "target")
            target_shown = True
            ax.annotate(f"{label} {_compact(value)}", (value, y), xytext=(3, -13), textcoords="offset points",
                        ha="left", fontsize=7, color="#d62728", bbox=LABEL_BOX)
    ax.set_xscale("log")
    values = [m.value for m in measures] + [v for m in measures for _, v in (*m.references, *m.targets)]
    ax.set_xlim(min(values) / 2, max(values) * 4)
    ax.set_yticks(ys, [m.label for m in measures], fontsize=9)
    ax.set_ylim(-0.8, len(measures) - 0.2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _compact(v)))
    ax.set_xlabel("per second, sustained (log scale)")
    ax.grid(True, axis="x", alpha=0.3, which="both")
    ax.set_title(title + (f" ({when})" if when else ""), loc="left", fontsize=11)
    if ref_shown or target_shown:
        ax.legend(loc="lower right", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    return out


def soak_series(series: Mapping[str, Any]) -> dict[str, list]:
    """The soak's time series in minutes since its start: bar delays (produced, visible) by close time, and
    per sample the TaskManager's memory (MB) and the checkpointed state of all jobs (MB)."""
    samples = [s for s in series.get("samples") or [] if isinstance(s, Mapping) and "t_s" in s]
    bars = [b for b in series.get("bars") or [] if isinstance(b, Mapping) and "closed_s" in b]
    t0 = samples[0]["t_ms"] / 1000 - samples[0]["t_s"] if samples and "t_ms" in samples[0] else None

    def state_mb(sample: Mapping[str, Any]) -> float | None:
        sizes = [j.get("state_bytes") for j in (sample.get("jobs") or {}).values() if isinstance(j, Mapping)]
        sizes = [v for v in sizes if isinstance(v, (int, float))]
        return sum(sizes) / 2**20 if sizes else None

    def seconds(b: Mapping[str, Any]) -> float:
        return b["closed_s"] if t0 is None or "closed_ms" not in b else b["closed_ms"] / 1000 - t0

    return {
        "bar_min": [seconds(b) / 60 for b in bars],
        "produced_ms": [b.get("produced") for b in bars],
        "visible_ms": [b.get("visible") for b in bars],
        "sample_min": [s["t_s"] / 60 for s in samples],
        "rss_mb": [s.get("tm_rss_mb") for s in samples],
        "jvm_rss_mb": [s.get("tm_jvm_rss_mb") for s in samples],
        "heap_mb": [_get(s, "tm.heap_used") for s in samples],
        "state_mb": [state_mb(s) for s in samples],
    }


def _line(ax, xs: Sequence[float], ys: Sequence[Any], **style) -> None:
    pairs = [(x, y) for x, y in zip(xs, ys) if isinstance(y, (int, float))]
    if pairs:
        ax.plot([x for x, _ in pairs], [y for _, y in pairs], **style)


def draw_soak(series: Mapping[str, Any], out: Path) -> Path:
    """Bar delay, TaskManager memory and checkpointed state over the soak's minutes; the warm-up shaded."""
    data = soak_series(series)
    fig = Figure(figsize=(11, 7.5), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 1, height_ratios=[3, 3, 2])
    delay = fig.add_subplot(grid[0])
    memory = fig.add_subplot(grid[1], sharex=delay)
    state = fig.add_subplot(grid[2], sharex=delay)
    delay.scatter(data["bar_min"], data["produced_ms"], s=6, color="#1f77b4", label="produced (leaves the job)")
    delay.scatter(data["bar_min"], data["visible_ms"], s=6, color="#ff7f0e",
                  label="visible to read_committed (checkpoint commit)")
    delay.set_ylabel("bar delay, ms")
    delay.set_yscale("log")
    delays = [v for v in (*data["produced_ms"], *data["visible_ms"]) if isinstance(v, (int, float)) and v > 0]
    if delays:
        delay.set_ylim(min(delays) / 1.5, max(delays) * 4)  # room for the legend above the points
    delay.legend(loc="upper right", fontsize=8)
    _line(memory, data["sample_min"], data["rss_mb"], color="#2ca02c", label="RSS with Python workers")
    _line(memory, data["sample_min"], data["jvm_rss_mb"], color="#17becf", label="JVM RSS")
    _line(memory, data["sample_min"], data["heap_mb"], color="#9467bd", label="heap used")
    memory.set_ylabel("TaskManager, MB")
    memory.set_ylim(bottom=0)
    memory.legend(loc="lower right", fontsize=8)
    _line(state, data["sample_min"], data["state_mb"], color="#8c564b", label="checkpointed state, all jobs")
    state.set_ylabel("state, MB")
    state.set_ylim(bottom=0)
    state.set_xlabel("minutes since the soak started")
    state.legend(loc="lower right", fontsize=8)
    warmup = series.get("measured_from_s")
    for ax in (delay, memory, state):
        ax.grid(True, alpha=0.3)
        if isinstance(warmup, (int, float)) and warmup > 0:
            ax.axvspan(0, warmup / 60, color="#cccccc", alpha=0.35, linewidth=0)
    for ax in (delay, memory):
        ax.tick_params(labelbottom=False)
    rate = series.get("rate_ticks_per_s")
    when = str(series.get("when", ""))[:16].replace("T", " ")
    delay.set_title(f"Pipeline soak{f' at {rate:,} ticks/s' if rate else ''}, recorded {when} UTC"
                    " (warm-up shaded)", loc="left", fontsize=11)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    return out


def write_plots(runs: Mapping[str, Sequence[Mapping[str, Any]]], results_dir: Path) -> list[str]:
    """Draw every plot whose data is recorded into ``results_dir``; one line per plot said."""
    said = []
    measures = throughput_measures(runs)
    if measures:
        when = max((str(_get(_latest(runs, n), "when") or "")[:10] for n in runs if _latest(runs, n)), default="")
        said.append(f"plotted {draw_throughput(measures, results_dir / THROUGHPUT_PNG, when).name}")
    else:
        said.append(f"no throughput recorded: {THROUGHPUT_PNG} not drawn")
    configurations = configuration_measures(runs)
    if configurations:
        when = max((str(_get(_latest(runs, n), "when") or "")[:10]
                    for n in ("processor_throughput", "processor_scaling") if _latest(runs, n)), default="")
        drawn = draw_throughput(configurations, results_dir / CONFIGURATIONS_PNG, when,
                                "Throughput by configuration, sustained, over the benchmark workload")
        said.append(f"plotted {drawn.name}")
    else:
        said.append(f"no configuration recorded: {CONFIGURATIONS_PNG} not drawn")
    series_path = results_dir / SOAK_SERIES
    try:
        series = json.loads(series_path.read_text())
    except (OSError, ValueError):
        series = None
    if isinstance(series, Mapping) and series.get("samples"):
        said.append(f"plotted {draw_soak(series, results_dir / SOAK_PNG).name}")
    else:
        said.append(f"no soak series in {SOAK_SERIES}: {SOAK_PNG} not drawn")
    return said
