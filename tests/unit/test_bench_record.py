"""bench/record.py, the benchmark of record: generated blocks replace only what is between their markers,
absent results say so, and the summary's "met?" follows the targets."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_record", ROOT / "bench" / "record.py")
record = importlib.util.module_from_spec(_spec)
sys.modules["bench_record"] = record
_spec.loader.exec_module(record)

PROCESSOR = {"bench": "processor_throughput", "when": "2026-11-24T14:34:08Z", "machine": "2 cores",
             "ticks": 1_000_000, "ticks_in_1m_bars": 1_000_000, "sustained_ticks_per_s": 20_895,
             "pandas_ticks_per_s": 1_162_671, "ticks_per_s_wall": 11_600}
LATENCY = {"when": "2026-11-24T03:44:00Z", "produced_delay_ms": {"p50": 333, "p99": 342, "max": 342},
           "visible_delay_ms": {"p50": 3676, "p99": 3705, "max": 3705}}
STORAGE = {"when": "2026-11-24T06:46:44Z", "trades_rows_per_s": 24_997, "bars_rows_per_s": 5_055,
           "latest_1m_bar_per_symbol": {"p50_ms": 2.34, "p95_ms": 3.43},
           "one_day_of_1m_bars_one_symbol": {"p50_ms": 13.03, "p95_ms": 60.5},
           "parquet_smaller_than_json_pct": 97.0}
MACHINE = {"CPU": "test CPU", "cores": "2"}


def summary_row(rows: list, prefix: str):
    return next(r for r in rows if r.figure.startswith(prefix))


# --- markers ------------------------------------------------------------------------------------------

DOC = """# Title

Prose with 12,345 typed | and <!-- a comment -->.

<!-- figures:alpha -->
old alpha table
<!-- /figures:alpha -->

Between the blocks.
<!-- figures:unknown -->
left alone
<!-- /figures:unknown -->
<!-- figures:beta -->
<!-- /figures:beta -->
Tail without newline"""


def outside(text: str) -> list[str]:
    """The document with every block's content cut out."""
    return [part for i, part in enumerate(record.MARKER.split(text)) if i % (record.MARKER.groups + 1) == 0]


def test_replace_blocks_changes_only_the_content_between_markers():
    new = record.replace_blocks(DOC, {"alpha": "| a |\n|---|\n| 1 |", "beta": "B"})
    assert "old alpha table" not in new
    assert "<!-- figures:alpha -->\n\n| a |\n|---|\n| 1 |\n\n<!-- /figures:alpha -->" in new
    assert "<!-- figures:beta -->\n\nB\n\n<!-- /figures:beta -->" in new
    assert "<!-- figures:unknown -->\nleft alone\n<!-- /figures:unknown -->" in new
    assert new.startswith("# Title\n\nProse with 12,345 typed | and <!-- a comment -->.\n\n")
    assert new.endswith("\n\nBetween the blocks.\n<!-- figures:unknown -->\nleft alone\n<!-- /figures:unknown -->\n"
                        "<!-- figures:beta -->\n\nB\n\n<!-- /figures:beta -->\nTail without newline")
    assert outside(new) == outside(DOC) == ["# Title\n\nProse with 12,345 typed | and <!-- a comment -->.\n\n",
                                            "\n\nBetween the blocks.\n", "\n", "\nTail without newline"]


def test_replace_blocks_is_idempotent():
    blocks = {"alpha": "A\n", "beta": "\nB"}
    once = record.replace_blocks(DOC, blocks)
    assert record.replace_blocks(once, blocks) == once


def test_markers_in_names_every_block():
    assert record.markers_in(DOC) == {"alpha", "unknown", "beta"}


def test_render_rewrites_documents_and_names_blocks_no_document_holds(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text("intro\n<!-- figures:record -->\n<!-- /figures:record -->\nend\n")
    said = record.render([doc], {}, MACHINE)
    text = doc.read_text()
    assert text.startswith("intro\n<!-- figures:record -->\n\n| figure | value |")
    assert text.endswith("<!-- /figures:record -->\nend\n")
    assert said[0] == f"rendered {doc}"
    assert "no document holds the block 'machine'" in said
    assert record.render([doc], {}, MACHINE)[0] != f"rendered {doc}"  # the second render changes nothing


# --- absent results -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in record.BLOCKS if n != "record"])
def test_a_missing_results_file_renders_not_yet_recorded(name):
    assert f"_not yet recorded_: `bench/results/{name}.jsonl` is absent" in record.BLOCKS[name]({})


def test_load_runs_of_an_absent_file_is_empty_and_the_summary_says_so(tmp_path):
    runs = record.load_runs(tmp_path, ["processor_throughput", "pipeline_soak"])
    assert runs == {"processor_throughput": [], "pipeline_soak": []}
    rows = record.processor_rows(runs) + record.soak_rows(runs)
    assert all(r.value == "not yet recorded" and r.met == "—" and r.recorded == "—" for r in rows)
    assert "| not yet recorded |" in record.block_record(runs)


def test_parse_jsonl_skips_blank_and_broken_lines_and_latest_is_the_last():
    text = json.dumps({"n": 1}) + "\n\nnot json\n[1, 2]\n" + json.dumps({"n": 2}) + "\n"
    runs = {"x": record.parse_jsonl(text)}
    assert runs["x"] == [{"n": 1}, {"n": 2}]
    assert record.latest(runs, "x") == {"n": 2}
    assert record.latest(runs, "y") is None


def test_blocks_render_the_latest_run_and_the_spread_of_all():
    earlier = {**PROCESSOR, "when": "2026-11-24T03:38:39Z", "sustained_ticks_per_s": 19_002}
    block = record.block_processor_throughput({"processor_throughput": [earlier, PROCESSOR]})
    assert "| processor: sustained ticks/s | **20,895** |" in block
    assert "19,002 – 20,895 (2 runs)" in block
    assert "Recorded 2026-11-24 14:34 UTC (`bench/results/processor_throughput.jsonl`, the latest of 2 runs)." in block
    assert ("```bash\n.venv/bin/python bench/processor_throughput.py --trades 2000000 --symbols 200 "
            "--reject-share 0.03\n```") in block
    # an earlier result without the workload's fields: dashes, not errors
    assert "| workload | — |" in block and "| processor ÷ passthrough (`ratio_to_passthrough`) | — |" in block


WORKLOAD_RUN = {
    **PROCESSOR, "when": "2026-12-07T18:00:00Z", "symbols": 200, "trades": 2_000_000, "ticks": 2_000_000,
    "rejects": 61_630, "partitions": 4, "parallelism": 2,
    "workload": {"symbols": 200, "sources": 3, "reject_share": 0.03, "rounds": 4, "zipf_s": 1.1, "seed": 7},
    "sustained_ticks_per_s": 40_000, "ticks_in_1m_bars": 2_000_000, "minute_bars": 300_000,
    "passthrough": {"sustained_records_per_s": 100_000, "wall_records_per_s": 50_000},
    "bare_sql": {"sustained_ticks_per_s": 80_000, "ticks_per_s_wall": 40_000},
    "pandas": {"ticks_per_s": 500_000, "seconds": 4.0}, "pandas_ticks_per_s": 500_000,
    "ratio_to_passthrough": 0.4, "ratio_to_sql": 0.5,
    "dlq_by_reason": {"DUPLICATE": 7_000, "LATE": 3_000},
    "checks": {"trades_in_1m_bars_equal_valid": True, "minute_bars_expected": 300_000,
               "minute_bars_equal_expected": True, "dlq_expected_by_reason": {"DUPLICATE": 7_000, "LATE": 3_001},
               "dlq_equal_expected": False, "late_in_bars": 1, "every_trade_once": True, "ok": False},
    "state": {"small": {"trades": 2_000_000, "state_bytes": 100_000_000},
              "big": {"trades": 4_000_000, "state_bytes": 190_000_000}},
    "state_growth_2m_to_4m": 0.9,
}


def test_processor_block_sets_the_run_beside_its_references_and_checks():
    block = record.block_processor_throughput({"processor_throughput": [WORKLOAD_RUN]})
    assert "2,000,000 valid trades + 61,630 rejects (0.03 of every kind); 200 symbols" in block
    assert "4 rounds of the ES sample; md.raw.trades's 4 partitions" in block
    assert "| processor ÷ passthrough (`ratio_to_passthrough`) | **0.4** | target ≥ 0.7 ✘ |" in block
    assert "| passthrough job, same topic: sustained records/s | 100,000 |" in block
    assert "80,000" in block and "processor ÷ bare SQL 0.5" in block
    assert "| pandas, same 1m bars from the valid trades' JSON lines | 500,000 ticks/s |" in block
    assert "✔ each valid trade in one 1m bar" in block
    assert "1 LATE trades taken into bars, every trade once (in a bar or md.dlq) ✔" in block
    assert "| md.dlq by reason | DUPLICATE 7,000, LATE 3,000 | ✘ the workload's expectation: DUPLICATE 7,000, " \
           "LATE 3,001 |" in block
    assert "100.0 MB after 2,000,000 trades, 190.0 MB after 4,000,000: growth **0.9**" in block
    assert "size of `state_growth_2m_to_4m` < 0.1 ✘" in block


def test_summary_rows_of_the_ratio_and_the_state_growth():
    rows = record.processor_rows({"processor_throughput": [WORKLOAD_RUN]})
    head = summary_row(rows, "processor md.raw.trades")
    assert "(2,000,000 trades, 200 symbols)" in head.figure and "bare Flink SQL 80,000" in head.reference
    assert summary_row(rows, "processor ÷ passthrough").met == "✘ not met"
    assert summary_row(rows, "processor keyed state").met == "✘ not met"
    better = {**WORKLOAD_RUN, "ratio_to_passthrough": 0.75, "state_growth_2m_to_4m": 0.04}
    rows = record.processor_rows({"processor_throughput": [better]})
    assert summary_row(rows, "processor ÷ passthrough").met == "✔ met"
    assert summary_row(rows, "processor keyed state").met == "✔ met"
    assert summary_row(rows, "processor scaling").value == "not yet recorded"


SCALING = {"when": "2026-12-07T18:30:00Z", "trades": 1_000_000, "symbols": 200, "rejects": 30_000,
           "partitions": 4, "configurations": [
               {"label": "1 TaskManager × 2 slots, parallelism 1", "taskmanagers": 1, "slots_per_taskmanager": 2,
                "parallelism": 1, "sustained_ticks_per_s": 30_000, "wall_ticks_per_s": 20_000, "busy_partitions": 4,
                "trades_in_1m_bars_equal_valid": True},
               {"label": "2 TaskManagers × 1 slot, parallelism 2", "taskmanagers": 2, "slots_per_taskmanager": 1,
                "parallelism": 2, "sustained_ticks_per_s": 45_000, "wall_ticks_per_s": 25_000, "busy_partitions": 4,
                "trades_in_1m_bars_equal_valid": False, "every_trade_once": False},
               {"label": "late ones in bars", "taskmanagers": 2, "slots_per_taskmanager": 1, "parallelism": 2,
                "sustained_ticks_per_s": 44_000, "trades_in_1m_bars_equal_valid": False, "every_trade_once": True}]}


def test_scaling_block_is_a_table_of_configurations():
    block = record.block_processor_scaling({"processor_scaling": [SCALING]})
    assert "| 1 TaskManager × 2 slots, parallelism 1 | 1 | 2 | 1 | **30,000** | 1.00× | 20,000 | 4 of 4 | ✔ |" \
        in block
    assert "| 2 TaskManagers × 1 slot, parallelism 2 | 2 | 1 | 2 | **45,000** | 1.50× | 25,000 | 4 of 4 | ✘ |" \
        in block
    assert "| late ones in bars | 2 | 1 | 2 | **44,000** | 1.47× | — | — of 4 | ✔ |" in block
    assert "Over 1,000,000 valid trades of 200 symbols (+ 30,000 rejects)" in block
    row = summary_row(record.processor_rows({"processor_scaling": [SCALING]}), "processor scaling")
    assert row.value.startswith("1 TaskManager × 2 slots, parallelism 1: 30,000; 2 TaskManagers × 1 slot, "
                                "parallelism 2: 45,000")


def test_latency_block_at_full_rate_says_the_share_and_the_commit_wait():
    lat = {**LATENCY, "rate_ticks_per_s": 36_000, "symbols": 200, "feed": "workload", "minutes": 5,
           "ticks_sent": 10_800_000, "bars_measured": 600, "rate_share_of_sustained": 0.9,
           "processor_sustained_ticks_per_s_of_record": 40_000, "rate_kept_ticks_per_s": 35_900,
           "commit_wait_ms": {"p50": 1_100, "p99": 2_000, "max": 2_100}}
    block = record.block_processor_latency({"processor_latency": [lat]})
    assert "| commit wait | 1,100 ms | 2,000 ms | 2,100 ms |" in block
    assert "ticks of the benchmark workload sent at 36,000 ticks/s (90% of the processor's recorded sustained " \
           "40,000 ticks/s; the feed kept 35,900) over 200 symbols" in block
    assert "p99 < 500 ms" in block
    row = summary_row(record.processor_rows({"processor_latency": [lat]}), "bar latency produced")
    assert row.figure == "bar latency produced, p50 / p99 at 36,000 ticks/s"


def test_a_missing_field_renders_a_dash_not_an_error():
    block = record.block_storage({"storage_throughput": [{"when": "2026-11-24T06:46:44Z"}]})
    assert "p95 —" in block and "| < 10 ms ? |" in block


# --- met? ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, target, expected", [
    (342, record.Target("<", 1000), "✔ met"),
    (1000, record.Target("<", 1000), "✘ not met"),
    (1000, record.Target("<=", 1000), "✔ met"),
    (20_895, record.Target(">=", 100_000), "✘ not met"),
    (100_000, record.Target(">=", 100_000), "✔ met"),
    (97.0, record.Target(">", 85), "✔ met"),
    (None, record.Target("<", 10), "?"),
    ("failed", record.Target("<", 10), "?"),
    (True, record.Target(">=", 1), "?"),
    (5, None, "—"),
])
def test_met_against_targets(value, target, expected):
    assert record.met(value, target) == expected


def test_summary_marks_each_figure_against_its_target():
    runs = {"processor_throughput": [PROCESSOR], "processor_latency": [LATENCY], "storage_throughput": [STORAGE]}
    rows = record.processor_rows(runs) + record.storage_rows(runs)
    processor = summary_row(rows, "processor")
    assert (processor.value, processor.met, processor.recorded) == ("**20,895**", "✘ not met", "2026-11-24")
    assert "1,162,671" in processor.reference and "100,000" in processor.reference
    assert summary_row(rows, "bar latency produced").met == "✔ met"
    assert summary_row(rows, "bar latency visible").met == "—"
    assert summary_row(rows, "storage: trades").met == "✔ met"  # 24,997 rows/s keep up with 20,895 ticks/s
    assert summary_row(rows, "query: latest").met == "✔ met"
    assert summary_row(rows, "query: one day").met == "✘ not met"  # 60.5 ms against < 50 ms
    assert summary_row(rows, "lake").met == "✔ met"


def test_storage_keeping_up_needs_the_processor_figure():
    row = summary_row(record.storage_rows({"storage_throughput": [STORAGE]}), "storage: trades")
    assert row.met == "—"


def test_replay_target_and_a_failed_replay():
    ok = {"when": "2026-11-24T08:36:07Z", "providers": [{"provider": "finnhub", "records_per_s": 22_289}],
          "replay": {"trades": 500_000, "per_s": 106_079}}
    rows = record.connector_rows({"connector_throughput": [ok]})
    assert [r.value for r in rows] == ["22,289", "**106,079**"] and rows[-1].met == "✔ met"
    failed = {**ok, "replay": "Traceback: broker down"}
    assert record.connector_rows({"connector_throughput": [failed]})[-1].met == "?"
    assert "| failed |" in record.block_connectors({"connector_throughput": [failed]})


# --- the soak, whatever its shape -----------------------------------------------------------------------

SOAK = {"bench": "pipeline_soak", "when": "2026-11-25T10:00:00Z", "machine": "2 cores", "rate": 2000,
        "minutes": 60, "latency": {"first": {"p99": 340}, "last": {"p99": 350}}, "drift": {"ok": True},
        "memory": {"tm_rss_mb": {"first": 900, "last": 950}, "ok": True}, "jobs": ["processor", "quality"]}


def test_soak_fields_are_rendered_generically():
    block = record.block_soak({"pipeline_soak": [SOAK]})
    assert "| `latency.first.p99` | 340 |" in block and "| `memory.tm_rss_mb.last` | 950 |" in block
    assert "| `jobs` | processor, quality |" in block
    assert "`when`" not in block and "`machine`" not in block


def test_soak_with_a_verdicts_mapping_and_headline_figures():
    soak = {"when": "2026-11-25T10:00:00Z", "rate_ticks_per_s": 5000, "minutes": 15.0,
            "latency_drift": {"ok": True, "first_p99_ms": 341, "last_p99_ms": 352},
            "memory": {"tm_rss_mb": {"median_by_third": {"first": 1200, "middle": 1210, "last": 1215}}},
            "checkpoints": {"max_duration_ms": 870, "ok": True},
            "verdicts": {"memory_bounded": True, "checkpoints_ok": True, "latency_no_drift": False,
                         "keeps_up": True, "passed": False}}
    row = record.soak_rows({"pipeline_soak": [soak]})[0]
    assert row.value == ("5,000 ticks/s for 15.0 min; p99 bar delay, first → last third 341 → 352 ms; "
                         "TaskManager RSS, first → last third 1,200 → 1,215 MB; longest checkpoint 870 ms")
    assert row.met == "✘ not met: latency_no_drift"  # the verdicts mapping, not the scattered "ok" fields
    assert "its 4 verdicts all hold" in row.reference
    soak["verdicts"]["latency_no_drift"] = True
    assert record.soak_rows({"pipeline_soak": [soak]})[0].met == "✔ met"


def test_soak_summary_row_follows_its_verdicts():
    row = record.soak_rows({"pipeline_soak": [SOAK]})[0]
    assert (row.value, row.met, row.recorded) == ("2,000 ticks/s for 60 min", "✔ met", "2026-11-25")
    failing = {**SOAK, "memory": {"ok": False}}
    assert record.soak_rows({"pipeline_soak": [failing]})[0].met == "✘ not met: memory"
    bare = record.soak_rows({"pipeline_soak": [{"when": "2026-11-25T10:00:00Z", "note": "x"}]})[0]
    assert (bare.value, bare.met) == ("1 figures", "—")


# --- the machine and the command line --------------------------------------------------------------------

def test_machine_parsers():
    assert record.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n") == "AMD EPYC 7B13"
    assert record.memory_gib("MemTotal:       24641536 kB\n") == "23.5 GiB"
    assert record.pretty_name('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n') == \
        "Debian GNU/Linux 12 (bookworm)"
    assert record.kafka_version(["kafka-clients-4.1.1.jar", "kafka_2.13-4.1.1.jar"]) == "4.1.1 (Scala 2.13)"
    assert record.kafka_version([]) == record.cpu_model("") == record.memory_gib("") == "—"


def test_machine_block_names_the_render_machine_and_the_results_own():
    block = record.block_machine(MACHINE, {"processor_throughput": [PROCESSOR], "pipeline_soak": []})
    assert "| CPU | test CPU |" in block and "the latest results say: `2 cores`." in block


def test_only_selects_in_the_order_of_record_and_refuses_unknown_names():
    assert [b.name for b in record.selected("connector_throughput, first_job_throughput")] == [
        "first_job_throughput", "connector_throughput"]
    assert len(record.selected(None)) == len(record.BENCHMARKS)
    with pytest.raises(SystemExit):
        record.selected("nope")


def test_dry_run_prints_the_commands_and_runs_nothing(capsys):
    assert record.main(["--dry-run", "--only", "processor_latency,storage_throughput"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"would run: {sys.executable} bench/processor_latency.py --rate-share 0.9 --symbols 200 --minutes 5",
                   f"would run: {sys.executable} bench/storage_throughput.py --trades 1000000 "
                   "--trade-symbols 200 --reject-share 0.03 --symbols 40 --queries 300"]


def test_fault_suite_block_shows_only_the_latest_suite_run():
    older = {"suite": "2026-11-23T10:00:00Z", "scenario": "undisturbed", "equal_to_undisturbed": True}
    line = {"suite": "2026-11-24T17:00:00Z", "when": "2026-11-24T17:05:00Z", "trades": 150000, "rate": 3000.0,
            "seconds": 240, "bars_records": 3000, "bars_rows": 2900, "trade_rows": 150001, "lake_rows": 153001,
            "dead_letters": 0, "equal_to_undisturbed": True}
    runs = {"fault_suite": [older, {**line, "scenario": "undisturbed", "job_failures": {"storage_writer": 0}},
                            {**line, "scenario": "kill-taskmanager", "round": 1, "job_failures": {"storage_writer": 2}},
                            {**line, "scenario": "kill-taskmanager", "round": 2, "equal_to_undisturbed": False,
                             "difference": "md.bars: 1 record differs"}]}
    text = record.block_fault_suite(runs)
    assert "`kill-taskmanager`" in text and "storage_writer 2" in text and "1 of 2 faulted runs" in text
    assert text.count("✔ equal") == 2 and "✘ md.bars: 1 record differs" in text
    assert "2026-11-24 17:00:00 UTC" in text


def test_fault_suite_block_without_results_says_how_to_get_them():
    assert "make test-e2e" in record.block_fault_suite({"fault_suite": []})
