"""bench/plots.py, drawn by bench/record.py's render: throughput against its references, the soak over time."""
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_plots", ROOT / "bench" / "plots.py")
plots = importlib.util.module_from_spec(_spec)
sys.modules["bench_plots"] = plots
_spec.loader.exec_module(plots)

RUNS = {
    "processor_throughput": [{"when": "2026-11-24T00:00:00Z", "sustained_ticks_per_s": 1},
                             {"when": "2026-11-25T00:00:00Z", "sustained_ticks_per_s": 44_089,
                              "pandas_ticks_per_s": 2_736_062}],
    "first_job_throughput": [{"when": "2026-11-25T00:00:00Z", "sustained_records_per_s": 96_025}],
    "indicators_throughput": [{"sustained_bars_per_s": 1_582}],  # no reference recorded
    "connector_throughput": [{"providers": [{"provider": "polygon", "records_per_s": 93_757}],
                              "replay": {"per_s": 316_307}}],
}
SERIES = {"when": "2026-11-25T01:25:20Z", "rate_ticks_per_s": 2000, "measured_from_s": 60.0,
          "samples": [{"t_ms": 1_000_000 + 15_000 * i, "t_s": 15.0 * i, "tm_rss_mb": 1700 + i,
                       "tm_jvm_rss_mb": 1500 + i, "tm": {"heap_used": 500 + 10 * i},
                       "jobs": {"a": {"state_bytes": 2**20 * i}, "b": {"state_bytes": None}}} for i in range(12)],
          "bars": [{"closed_ms": 1_000_000 + 60_000 * i, "closed_s": 60.0 * i, "produced": 300 + i,
                    "visible": 1200 + i} for i in range(1, 4)]}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_throughput_measures_take_the_latest_runs_and_only_recorded_references():
    measures = {m.label: m for m in plots.throughput_measures(RUNS)}
    processor = measures["market data processor"]
    assert processor.value == 44_089
    assert processor.references == [("passthrough job", 96_025.0), ("pandas batch", 2_736_062.0)]
    assert processor.targets == [("target", 100_000)]
    assert measures["indicators"].references == []
    assert measures["connector: polygon → Kafka"].value == 93_757
    assert measures["tickflow replay → Kafka"].targets == [("target", 100_000)]
    assert "data quality" not in measures  # not recorded: left out


def test_soak_series_in_minutes_with_state_summed_over_jobs():
    data = plots.soak_series(SERIES)
    assert data["bar_min"] == [1.0, 2.0, 3.0]
    assert data["produced_ms"] == [301, 302, 303]
    assert data["sample_min"][4] == 1.0
    assert data["state_mb"][3] == 3.0
    assert data["heap_mb"][2] == 520


def test_write_plots_draws_both_pngs(tmp_path):
    (tmp_path / plots.SOAK_SERIES).write_text(json.dumps(SERIES))
    said = plots.write_plots(RUNS, tmp_path)
    assert said == ["plotted throughput.png", "no configuration recorded: configurations.png not drawn",
                    "plotted soak.png"]
    assert png_size(tmp_path / "throughput.png")[0] == 1100
    assert png_size(tmp_path / "soak.png") == (1100, 750)


WORKLOAD_RUNS = {
    "processor_throughput": [{"when": "2026-12-07T18:00:00Z", "parallelism": 2, "sustained_ticks_per_s": 40_000,
                              "passthrough": {"sustained_records_per_s": 100_000},
                              "bare_sql": {"sustained_ticks_per_s": 80_000},
                              "pandas": {"ticks_per_s": 500_000}, "pandas_ticks_per_s": 500_000}],
    "processor_scaling": [{"when": "2026-12-07T18:30:00Z", "configurations": [
        {"label": "1 TaskManager × 2 slots, parallelism 1", "sustained_ticks_per_s": 30_000},
        {"label": "2 TaskManagers × 1 slot, parallelism 2", "sustained_ticks_per_s": 45_000},
        {"label": "failed", "sustained_ticks_per_s": None}]}],
}


def test_configuration_measures_are_the_run_of_record_and_the_scaling_table():
    measures = plots.configuration_measures(WORKLOAD_RUNS)
    assert [(m.label, m.value) for m in measures] == [
        ("passthrough job (MiniCluster, parallelism 2)", 100_000),
        ("bare Flink SQL 1m OHLCV (MiniCluster, parallelism 2)", 80_000),
        ("processor (MiniCluster, parallelism 2)", 40_000),
        ("pandas, one process (batch)", 500_000),
        ("processor, session cluster: 1 TaskManager × 2 slots, parallelism 1", 30_000),
        ("processor, session cluster: 2 TaskManagers × 1 slot, parallelism 2", 45_000),
    ]
    assert measures[2].targets == [("target", 100_000.0)] and measures[0].targets == []
    # the processor's references are those of its own run
    processor = {m.label: m for m in plots.throughput_measures(WORKLOAD_RUNS)}["market data processor"]
    assert processor.references == [("passthrough job", 100_000.0), ("bare Flink SQL", 80_000.0),
                                     ("pandas batch", 500_000.0)]


def test_configurations_png_is_drawn(tmp_path):
    said = plots.write_plots(WORKLOAD_RUNS, tmp_path)
    assert "plotted configurations.png" in said
    assert png_size(tmp_path / "configurations.png")[0] == 1100


def test_without_results_nothing_is_drawn_and_it_says_so(tmp_path):
    said = plots.write_plots({}, tmp_path)
    assert said == ["no throughput recorded: throughput.png not drawn",
                    "no configuration recorded: configurations.png not drawn",
                    "no soak series in pipeline_soak_series.json: soak.png not drawn"]
    assert list(tmp_path.iterdir()) == []
