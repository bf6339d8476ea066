"""The benchmark of record: run every benchmark, then regenerate every figure in bench/README.md.

    .venv/bin/python bench/record.py [--only NAME[,NAME]] [--render-only] [--dry-run]

Each benchmark script appends one JSON line to bench/results/<name>.jsonl. This runs the scripts with the
arguments of ``BENCHMARKS`` (the one place they are written down), then renders the latest line of each
result file into the generated blocks of bench/README.md and README.md — the text between
``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->`` — and describes the machine the render ran on.
Text outside the blocks is never touched, so the prose stays hand-written and the numbers never are.
A benchmark that fails is reported in one line; the others still run, and the command exits 1 at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOCUMENTS = (BENCH / "README.md", ROOT / "docs" / "fault_tolerance.md")
# results that tests write rather than benchmarks (`make test-e2e`); rendered, never run from here
TEST_RESULTS = ("fault_suite",)

Result = dict[str, Any]
Runs = Mapping[str, Sequence[Result]]
DASH = "—"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: the stem of its result file, its script under bench/, and the arguments of record."""

    name: str
    script: str
    args: tuple[str, ...] = ()
    optional: bool = False  # skipped, with one line, while the script does not exist yet

    def command(self, python: str = ".venv/bin/python") -> list[str]:
        """The command line, relative to the project root."""
        return [python, f"bench/{self.script}", *self.args]


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("first_job_throughput", "first_job_throughput.py", ("--trades", "1000000", "--symbols", "200")),
    Benchmark("processor_throughput", "processor_throughput.py",
              ("--trades", "2000000", "--symbols", "200", "--reject-share", "0.03")),
    # at the benchmark's full rate: a share of the sustained rate processor_throughput just recorded
    Benchmark("processor_latency", "processor_latency.py",
              ("--rate-share", "0.9", "--symbols", "200", "--minutes", "5")),
    Benchmark("processor_scaling", "processor_scaling.py",
              ("--trades", "1000000", "--symbols", "200", "--reject-share", "0.03")),
    Benchmark("indicators_throughput", "indicators_throughput.py", ("--symbols", "100")),
    Benchmark("storage_throughput", "storage_throughput.py",
              ("--trades", "1000000", "--trade-symbols", "200", "--reject-share", "0.03", "--symbols", "40",
               "--queries", "300")),
    Benchmark("quality_throughput", "quality_throughput.py",
              ("--trades", "1000000", "--symbols", "200", "--reject-share", "0.03")),
    Benchmark("quality_flood", "quality_throughput.py", ("--trades", "500000", "--symbols", "200", "--resend")),
    Benchmark("connector_throughput", "connector_throughput.py", ("--trades", "200000")),
    Benchmark("pipeline_soak", "soak.py", ("--rate", "2000", "--symbols", "200", "--minutes", "15")),
)
BY_NAME = {b.name: b for b in BENCHMARKS}

# The targets the issues set (processor throughput and latency, queries, lake, replay).
PROCESSOR_TARGET_TICKS_PER_S = 100_000
PRODUCED_P99_TARGET_MS = 500          # issue 20: at the benchmark's full rate (1,000 ms before it)
RATIO_TO_PASSTHROUGH_TARGET = 0.7     # issue 20: processor sustained ÷ passthrough sustained, same run
STATE_GROWTH_TARGET = 0.10            # issue 20: keyed state after 4M trades vs 2M differ by less than this fraction
LATEST_BARS_P95_TARGET_MS = 10
ONE_DAY_P95_TARGET_MS = 50
LAKE_SMALLER_TARGET_PCT = 85
REPLAY_TARGET_PER_S = 100_000

PROVIDER_LABELS = {
    "polygon": "Polygon WebSocket (`T` + `Q`)",
    "finnhub": "Finnhub WebSocket (trades)",
    "databento": "Databento live gateway (trades + MBP-1, DBN)",
}


# --- results -----------------------------------------------------------------------------------------

def parse_jsonl(text: str) -> list[Result]:
    """The JSON objects of a results file, oldest first; blank or unreadable lines are skipped."""
    runs = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            runs.append(value)
    return runs


def load_runs(results_dir: Path, names: Iterable[str]) -> dict[str, list[Result]]:
    """Every recorded run of each benchmark (an empty list when its file is absent)."""
    out = {}
    for name in names:
        path = results_dir / f"{name}.jsonl"
        out[name] = parse_jsonl(path.read_text()) if path.exists() else []
    return out


def latest(runs: Runs, name: str) -> Result | None:
    """The latest recorded run of a benchmark, or None."""
    found = runs.get(name) or []
    return found[-1] if found else None


def get(result: Mapping[str, Any] | None, path: str) -> Any:
    """A field of a result by dotted path (``a.b``), or None when any part is missing."""
    value: Any = result
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


# --- formatting --------------------------------------------------------------------------------------

def is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def num(value: Any, unit: str = "") -> str:
    """A recorded number with thousands separators, as the script rounded it; — when absent."""
    if value is None:
        return DASH
    text = f"{value:,}" if is_number(value) else str(value)
    return f"{text} {unit}" if unit and is_number(value) else text


def bold(text: str) -> str:
    """Markdown bold, unless the value is absent."""
    return text if text == DASH else f"**{text}**"


def when_text(result: Mapping[str, Any] | None) -> str:
    """A result's ``when`` as ``YYYY-MM-DD HH:MM UTC``."""
    when = get(result, "when")
    if not isinstance(when, str):
        return "at an unrecorded time"
    m = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})", when)
    return f"{m.group(1)} {m.group(2)} UTC" if m else when


def date_of(result: Mapping[str, Any] | None) -> str:
    """A result's ``when`` as its date, or — ."""
    when = get(result, "when")
    return when[:10] if isinstance(when, str) and len(when) >= 10 else DASH


def ratio(big: Any, small: Any) -> float | None:
    """big ÷ small, or None when either is missing or small is zero."""
    if not (is_number(big) and is_number(small)) or not small:
        return None
    return big / small


def cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def code_block(command: Sequence[str]) -> str:
    """A fenced bash block with one command line."""
    return "```bash\n" + " ".join(command) + "\n```"


def not_recorded(name: str) -> str:
    """The text of a block whose benchmark has no result yet."""
    return f"_not yet recorded_: `bench/results/{name}.jsonl` is absent (run `make bench`)."


def recorded_line(name: str, runs: Runs) -> str:
    """Which run the figures come from: its time, the file, how many runs it holds."""
    n = len(runs.get(name) or [])
    tail = f", the latest of {n} runs" if n > 1 else ""
    return f"Recorded {when_text(latest(runs, name))} (`bench/results/{name}.jsonl`{tail})."


def spread(runs: Runs, name: str, field: str, unit: str = "") -> str:
    """min – max of a field over every recorded run, with the count, or the single value."""
    values = [get(r, field) for r in runs.get(name) or []]
    values = [v for v in values if is_number(v)]
    if not values:
        return DASH
    if len(values) == 1:
        return num(values[0], unit)
    return f"{num(min(values))} – {num(max(values), unit)} ({len(values)} runs)"


# --- targets -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """A bound a figure must meet: ``value OP bound``."""

    op: str  # one of <, <=, >, >=
    bound: float

    def holds(self, value: float) -> bool:
        """Whether the value meets the bound."""
        return {"<": value < self.bound, "<=": value <= self.bound,
                ">": value > self.bound, ">=": value >= self.bound}[self.op]


def met(value: Any, target: Target | None) -> str:
    """✔ met / ✘ not met against a target; — without one; ? when the figure was not recorded."""
    if target is None:
        return DASH
    if not is_number(value):
        return "?"
    return "✔ met" if target.holds(value) else "✘ not met"


def check(value: Any, target: Target) -> str:
    """Just the mark of :func:`met`, for the sections' target columns."""
    return met(value, target).split(" ")[0]


# --- the blocks of each benchmark -------------------------------------------------------------------

def with_command(name: str, body: str) -> str:
    """A block: the benchmark's command of record, then its figures."""
    bench = BY_NAME.get(name)
    head = code_block(bench.command()) + "\n\n" if bench else ""
    return head + body


def benchmark_block(name: str) -> Callable[[Callable[[str, Result, Runs], str]], Callable[[Runs], str]]:
    """A block of one benchmark: its command of record, then the figures ``render(name, latest run, runs)``
    makes and the line saying which run they come from — or, with no run yet, that it is not recorded."""
    def wrap(render: Callable[[str, Result, Runs], str]) -> Callable[[Runs], str]:
        def block(runs: Runs) -> str:
            r = latest(runs, name)
            if r is None:
                return with_command(name, not_recorded(name))
            return with_command(name, render(name, r, runs) + "\n\n" + recorded_line(name, runs))
        block.__doc__ = render.__doc__
        return block
    return wrap


@benchmark_block("first_job_throughput")
def block_first_job(name: str, r: Result, runs: Runs) -> str:
    """Kafka → Flink → Kafka passthrough: sustained and wall rates, publish rate, records out/in."""
    out, expected = get(r, "records"), get(r, "expected")
    whole = "none lost, none duplicated" if out == expected and out is not None else "records lost or duplicated"
    rows = [
        ["sustained records/s", bold(num(get(r, "sustained_records_per_s"))),
         "records ÷ (last − first output record's Kafka timestamp): start-up excluded"],
        ["wall records/s", num(get(r, "wall_records_per_s")),
         f"records ÷ wall time of `tickflow run` ({num(get(r, 'wall_s_including_startup'), 's')}, "
         "JVM and job start-up included)"],
        ["replay publish rate", num(get(r, "publish_records_per_s"), "records/s"),
         "`connectors/replay.py` through confluent-kafka"],
        ["records out / in", f"{num(out)} / {num(expected)}", whole],
    ]
    return table(["figure", "value", "how"], rows)


def mark(ok: Any) -> str:
    """✔ for a true check, ✘ for a false one, — when not recorded."""
    return DASH if not isinstance(ok, bool) else ("✔" if ok else "✘")


def megabytes(value: Any) -> str:
    """Bytes as MB with one decimal, or —."""
    return f"{value / 1e6:,.1f} MB" if is_number(value) else DASH


def workload_text(r: Mapping[str, Any]) -> str:
    """What a result's workload held: trades, rejects, symbols, sources, rounds of the ES sample."""
    w = get(r, "workload")
    if not isinstance(w, Mapping):
        return DASH
    rejects = f" + {num(get(r, 'rejects'))} rejects ({num(get(w, 'reject_share'))} of every kind)" \
        if get(r, "rejects") else ""
    return (f"{num(get(r, 'trades'))} valid trades{rejects}; {num(get(r, 'symbols'))} symbols (Zipf s = "
            f"{num(get(w, 'zipf_s'))}) from {num(get(w, 'sources'))} sources; {num(get(w, 'rounds'))} rounds of "
            f"the ES sample; md.raw.trades's {num(get(r, 'partitions'))} partitions")


def state_growth_text(r: Mapping[str, Any]) -> str:
    """The state after N and 2N trades and the growth between them, or —."""
    small, big = get(r, "state.small"), get(r, "state.big")
    if not isinstance(small, Mapping) or not isinstance(big, Mapping):
        return DASH
    growth = get(r, "state_growth_2m_to_4m")
    return (f"{megabytes(get(small, 'state_bytes'))} after {num(get(small, 'trades'))} trades, "
            f"{megabytes(get(big, 'state_bytes'))} after {num(get(big, 'trades'))}: growth "
            f"{bold(num(growth))}")


@benchmark_block("processor_throughput")
def block_processor_throughput(name: str, r: Result, runs: Runs) -> str:
    """The processor's sustained and wall ticks/s beside the passthrough job, bare Flink SQL and pandas of the
    same run, its correctness checks and its state growth, against the issue's targets."""
    sustained, pandas = get(r, "sustained_ticks_per_s"), get(r, "pandas_ticks_per_s")
    to_pass, to_sql = get(r, "ratio_to_passthrough"), get(r, "ratio_to_sql")
    growth = get(r, "state_growth_2m_to_4m")
    dlq, dlq_expected = get(r, "dlq_by_reason"), get(r, "checks.dlq_expected_by_reason")
    rows = [
        ["workload", workload_text(r), "tickflow_testkit.workload, published before the jobs start"],
        ["processor: sustained ticks/s", bold(num(sustained)),
         f"trades in 1m bars after the first ÷ first → last 1m bar's Kafka timestamp "
         f"({num(get(r, 'first_to_last_1m_bar_s'), 's')})"],
        ["processor: wall ticks/s", num(get(r, "ticks_per_s_wall")),
         f"{num(get(r, 'ticks'))} ÷ {num(get(r, 'wall_s'), 's')} of `tickflow run` (JVM and job start-up included)"],
        ["passthrough job, same topic: sustained records/s", num(get(r, "passthrough.sustained_records_per_s")),
         f"records ÷ first → last output record; wall {num(get(r, 'passthrough.wall_records_per_s'))} records/s"],
        ["processor ÷ passthrough (`ratio_to_passthrough`)", bold(num(to_pass)),
         f"target ≥ {num(RATIO_TO_PASSTHROUGH_TARGET)} {check(to_pass, Target('>=', RATIO_TO_PASSTHROUGH_TARGET))}"],
        ["bare Flink SQL 1m OHLCV (`json` format), same topic: sustained ticks/s",
         num(get(r, "bare_sql.sustained_ticks_per_s")),
         f"bench/sql_bars_job.py; processor ÷ bare SQL {num(to_sql)}; wall {num(get(r, 'bare_sql.ticks_per_s_wall'))}"],
        ["pandas, same 1m bars from the valid trades' JSON lines", num(pandas, "ticks/s"),
         f"parse + groupby in {num(get(r, 'pandas.seconds'), 's')}: the batch ceiling"],
        ["trades in 1m bars / valid trades",
         f"{num(get(r, 'ticks_in_1m_bars'))} / {num(get(r, 'trades') or get(r, 'ticks'))}",
         f"{mark(get(r, 'checks.trades_in_1m_bars_equal_valid'))} each valid trade in one 1m bar; "
         f"{num(get(r, 'minute_bars'))} 1m bars, {num(get(r, 'checks.minute_bars_expected'))} expected "
         f"{mark(get(r, 'checks.minute_bars_equal_expected'))}"
         + (f"; {num(get(r, 'checks.late_in_bars'))} LATE trades taken into bars, every trade once (in a bar or "
            f"md.dlq) {mark(get(r, 'checks.every_trade_once'))}" if get(r, "checks.every_trade_once") is not None
            else "")],
        ["md.dlq by reason", ", ".join(f"{k} {num(v)}" for k, v in dlq.items()) if isinstance(dlq, Mapping) else DASH,
         f"{mark(get(r, 'checks.dlq_equal_expected'))} the workload's expectation"
         + ("" if get(r, "checks.dlq_equal_expected") is not False or not isinstance(dlq_expected, Mapping) else
            ": " + ", ".join(f"{k} {num(v)}" for k, v in dlq_expected.items()))],
        ["keyed state (full RocksDB snapshot) after N and 2N trades", state_growth_text(r),
         f"size of `state_growth_2m_to_4m` < {num(STATE_GROWTH_TARGET)} "
         f"{check(abs(growth) if growth is not None else None, Target('<', STATE_GROWTH_TARGET))}"],
        ["sustained, every recorded run", spread(runs, name, "sustained_ticks_per_s"), "how much the figure moves"],
    ]
    share = ratio(pandas, sustained)
    verdict = met(sustained, Target(">=", PROCESSOR_TARGET_TICKS_PER_S))
    tail = (f"The issue's target, {num(PROCESSOR_TARGET_TICKS_PER_S)} ticks/s sustained: **{verdict}**"
            + (f"; the processor runs at 1/{share:.0f} of the pandas ceiling." if share else "."))
    return table(["figure", "value", "how / target"], rows) + "\n\n" + tail


@benchmark_block("processor_scaling")
def block_processor_scaling(name: str, r: Result, runs: Runs) -> str:
    """The processor's throughput by configuration: parallelism and TaskManagers on the session cluster."""
    configs = scaling_configurations(r)
    first = get(configs[0], "sustained_ticks_per_s") if configs else None
    rows = []
    for c in configs:
        speedup = ratio(get(c, "sustained_ticks_per_s"), first)
        rows.append([str(get(c, "label")), num(get(c, "taskmanagers")), num(get(c, "slots_per_taskmanager")),
                     num(get(c, "parallelism")), bold(num(get(c, "sustained_ticks_per_s"))),
                     f"{speedup:.2f}×" if speedup else DASH, num(get(c, "wall_ticks_per_s")),
                     f"{num(get(c, 'busy_partitions'))} of {num(get(r, 'partitions'))}",
                     mark(get(c, "every_trade_once") if get(c, "every_trade_once") is not None
                          else get(c, "trades_in_1m_bars_equal_valid"))])
    header = ["configuration", "TaskManagers", "slots each", "parallelism", "sustained ticks/s",
              "vs the first row", "wall ticks/s", "partitions read", "every trade once"]
    body = table(header, rows or [[DASH] * len(header)])
    tail = (f"Over {num(get(r, 'trades'))} valid trades of {num(get(r, 'symbols'))} symbols "
            f"(+ {num(get(r, 'rejects'))} rejects), `market_data_processor --bounded` submitted to the session "
            "cluster (`tickflow cluster up`, RocksDB, checkpoints every 2 s on its S3) once per configuration, "
            "each with its own consumer group over the same md.raw.trades. Every trade once: each valid trade in "
            "one 1m bar, each LATE one in a bar or in md.dlq.")
    return body + "\n\n" + tail


@benchmark_block("processor_latency")
def block_processor_latency(name: str, r: Result, runs: Runs) -> str:
    """Bar latency produced and visible, p50/p99/max, against the p99 < 1 s target."""

    def ms(path: str) -> str:
        return num(get(r, path), "ms")

    rows = [
        ["produced delay", bold(ms("produced_delay_ms.p50")), bold(ms("produced_delay_ms.p99")),
         ms("produced_delay_ms.max"),
         "bar record's Kafka timestamp − (E + 2 s): watermark interval (200 ms) + window + bar book + sink"],
        ["visible delay", ms("visible_delay_ms.p50"), ms("visible_delay_ms.p99"), ms("visible_delay_ms.max"),
         "first seen by a `read_committed` consumer − (E + 2 s)"],
        ["commit wait", ms("commit_wait_ms.p50"), ms("commit_wait_ms.p99"), ms("commit_wait_ms.max"),
         "visible − produced: what a `read_committed` consumer waits for the checkpoint to commit"],
    ]
    timeframes = get(r, "by_timeframe")
    by_tf = (", ".join(f"{num(n)} {tf}" for tf, n in timeframes.items())
             if isinstance(timeframes, Mapping) else DASH)
    verdict = met(get(r, "produced_delay_ms.p99"), Target("<", PRODUCED_P99_TARGET_MS))
    share = get(r, "rate_share_of_sustained")
    full = (f" ({share:.0%} of the processor's recorded sustained "
            f"{num(get(r, 'processor_sustained_ticks_per_s_of_record'))} ticks/s; the feed kept "
            f"{num(get(r, 'rate_kept_ticks_per_s'))})") if is_number(share) else ""
    feed = {"workload": " of the benchmark workload", "es": " (ES prices round-robin)"}.get(get(r, "feed"), "")
    tail = (f"{num(get(r, 'bars_measured'))} bars measured ({by_tf}) after warm-up; "
            f"{num(get(r, 'ticks_sent'))} ticks{feed} sent at {num(get(r, 'rate_ticks_per_s'))} ticks/s{full} over "
            f"{num(get(r, 'symbols'))} symbols for {num(get(r, 'minutes'))} min. "
            f"The issue's target, p99 < {num(PRODUCED_P99_TARGET_MS)} ms for the bar produced: **{verdict}**.")
    return table(["figure", "p50", "p99", "max", "what"], rows) + "\n\n" + tail


@benchmark_block("indicators_throughput")
def block_indicators(name: str, r: Result, runs: Runs) -> str:
    """The indicators job's bars/s beside the same step without Flink, in one JVM and in one Python process."""
    sustained, pure = get(r, "sustained_bars_per_s"), get(r, "pure_python_bars_per_s")
    alone = get(r, "jvm_alone_bars_per_s")
    cost = ratio(alone, sustained)
    rows = [
        [f"sustained bars/s (first → last output record; keyed step in the {get(r, 'engine') or 'Python'} "
         "operator)", bold(num(sustained))],
        [f"wall bars/s (start-up included, {num(get(r, 'wall_s_including_startup'), 's')})",
         num(get(r, "wall_bars_per_s"))],
        ["the same step in one JVM, no Flink (io.tickflow.indicators.IndicatorReplay)", num(alone, "bars/s")],
        ["… per second of that thread's CPU time", num(get(r, "jvm_alone_bars_per_cpu_s"), "bars/s")],
        ["the same step in one Python process, no Flink (the reference, jobs.indicators.ReferenceStep)",
         num(pure, "bars/s")],
        ["records out / bars in", f"{num(get(r, 'records_out'))} / {num(get(r, 'bars'))}"],
        ["the JVM step alone ÷ the job (Flink's cost per bar)", f"{cost:.1f}×" if cost else DASH],
        ["symbols' worth of 1m bars at the sustained rate (one bar per symbol per minute)",
         num(sustained * 60 if is_number(sustained) else None)],
        ["sustained, every recorded run", spread(runs, name, "sustained_bars_per_s")],
    ]
    return table(["figure", "value"], rows)


@benchmark_block("storage_throughput")
def block_storage(name: str, r: Result, runs: Runs) -> str:
    """PostgreSQL rows/s, the documented queries' latency and the lake's size, against their targets."""
    trades_rate, bars_rate = get(r, "trades_rows_per_s"), get(r, "bars_rows_per_s")
    processor = get(latest(runs, "processor_throughput"), "sustained_ticks_per_s")
    keeps_up = (f"≥ the processor's sustained {num(processor)} ticks/s {check(trades_rate, Target('>=', processor))}"
                if is_number(processor) else DASH)
    q1, q2 = "latest_1m_bar_per_symbol", "one_day_of_1m_bars_one_symbol"
    p95_1, p95_2 = get(r, f"{q1}.p95_ms"), get(r, f"{q2}.p95_ms")
    smaller = get(r, "parquet_smaller_than_json_pct")
    rows = [
        [f"trades into PostgreSQL ({num(get(r, 'trades'))} trades"
         + (f" of {num(get(r, 'symbols'))} symbols, {num(get(r, 'rejects'))} rejects beside them"
            if get(r, "symbols") else " (real ES)") + "; parse + rules + dedup + batched upserts of 5,000)",
         f"{bold(num(trades_rate, 'rows/s'))} (run {num(get(r, 'trades_wall_s'), 's')} incl. start-up)", keeps_up],
        [f"1m bars into PostgreSQL ({num(get(r, 'bars'))} bars, {num(get(r, f'{q1}.symbols'))} symbols; JSON read "
         "+ upserts of 500)", f"{bold(num(bars_rate, 'rows/s'))} ({num(get(r, 'bars_wall_s'), 's')})",
         f"{num(bars_rate * 60 if is_number(bars_rate) else None)} symbols' worth of 1m bars"],
        [f"latest 1m bar of every symbol (`sql/queries/latest_bars.sql`, {num(get(r, f'{q1}.rows'))} rows)",
         f"p50 {num(get(r, f'{q1}.p50_ms'), 'ms')}, {bold('p95 ' + num(p95_1, 'ms'))}",
         f"< {LATEST_BARS_P95_TARGET_MS} ms {check(p95_1, Target('<', LATEST_BARS_P95_TARGET_MS))}"],
        [f"one trading day of 1m bars for one symbol (`sql/queries/bars.sql`, {num(get(r, f'{q2}.rows'))} rows)",
         f"p50 {num(get(r, f'{q2}.p50_ms'), 'ms')}, {bold('p95 ' + num(p95_2, 'ms'))}",
         f"< {ONE_DAY_P95_TARGET_MS} ms {check(p95_2, Target('<', ONE_DAY_P95_TARGET_MS))}"],
        ["Parquet (ZSTD, DECIMAL prices) per trade vs the raw JSON value on `md.raw.trades`",
         bold(f"{num(get(r, 'parquet_bytes_per_trade'))} B vs {num(get(r, 'raw_json_bytes_per_trade'))} B: "
              f"{num(smaller)}% smaller"),
         f"≥ {LAKE_SMALLER_TARGET_PCT}% {check(smaller, Target('>=', LAKE_SMALLER_TARGET_PCT))}"],
        [f"Parquet files for the {num(get(r, 'trades'))} trades (`date=…/hour=…` partitions, a file per "
         "checkpoint and writer)", num(get(r, "parquet_trade_files")), DASH],
    ]
    return table(["figure", "value", "target / reference"], rows)


@benchmark_block("quality_throughput")
def block_quality(name: str, r: Result, runs: Runs) -> str:
    """The quality job's ticks/s beside the processor on the same input and the pandas computation."""
    p = latest(runs, "processor_throughput")
    sustained, p_sustained = get(r, "sustained_ticks_per_s"), get(p, "sustained_ticks_per_s")
    share = ratio(sustained, p_sustained)
    rows = [
        ["sustained ticks/s (valid trades of the records after the first ÷ first-to-last record time, "
         f"{num(get(r, 'first_to_last_record_s'), 's')})", bold(num(sustained)),
         f"the processor on the same input: {num(p_sustained)}"
         + (f" (the quality job at {share:.0%} of it)" if share else "")],
        [f"wall ticks/s ({num(get(r, 'ticks'))} ÷ {num(get(r, 'wall_s'), 's')} of `tickflow run`, start-up "
         "included)", bold(num(get(r, "ticks_per_s_wall"))), f"the processor: {num(get(p, 'ticks_per_s_wall'))}"],
        ["sustained, every recorded run", spread(runs, name, "sustained_ticks_per_s"),
         f"the processor: {spread(runs, 'processor_throughput', 'sustained_ticks_per_s')}"],
        ["wall, every recorded run", spread(runs, name, "ticks_per_s_wall"),
         f"the processor: {spread(runs, 'processor_throughput', 'ticks_per_s_wall')}"],
        ["quality records / valid trades counted / alerts",
         f"{num(get(r, 'quality_records'))} / {num(get(r, 'valid_in_quality_records'))} / {num(get(r, 'alerts'))}",
         "every trade counted once" if get(r, "valid_in_quality_records") == get(r, "ticks")
         else "trades missing or counted twice"],
        ["pandas: the same per-minute counts, volume, VWAP, high/low, latency p50/p99 from the CSV",
         f"{num(get(r, 'pandas_ticks_per_s'), 'ticks/s')} " + (
             f"({num(get(r, 'pandas_windows_s'), 's')})" if get(r, "pandas_windows_s") is not None else
             f"({num(get(r, 'pandas_windows_s_per_copy'), 's')} per copy)"), "the batch ceiling"],
    ]
    return table(["figure", "value", "reference"], rows)


@benchmark_block("quality_flood")
def block_quality_flood(name: str, r: Result, runs: Runs) -> str:
    """The quality job on a topic holding the sample twice, byte for byte: rate, and each duplicate once."""
    sent, counted = get(r, "duplicates_sent"), get(r, "duplicates_in_quality_records")
    rows = [
        [f"records/s over every record read ({num(get(r, 'records_read'))} ÷ {num(get(r, 'wall_s'), 's')} of "
         "`tickflow run`, start-up included)", bold(num(get(r, "ticks_per_s_wall"))),
         f"the same job on distinct copies: {num(get(latest(runs, 'quality_throughput'), 'ticks_per_s_wall'))}"],
        ["every recorded run", spread(runs, name, "ticks_per_s_wall"), DASH],
        ["duplicates sent / counted in quality records", f"{num(sent)} / {num(counted)}",
         "each counted once" if sent == counted else "duplicates missing or counted twice"],
        ["valid trades counted", num(get(r, "valid_in_quality_records")),
         "every trade once" if get(r, "valid_in_quality_records") == get(r, "ticks") else "trades lost or doubled"],
        ["most duplicates in one window / revisions", f"{num(get(r, 'most_duplicates_in_one_window'))} / "
         f"{num(get(r, 'revisions'))}", "the window open when they came / windows still revisable"],
    ]
    return table(["figure", "value", "reference"], rows)


@benchmark_block("connector_throughput")
def block_connectors(name: str, r: Result, runs: Runs) -> str:
    """Each provider's records/s through `tickflow connect`, and the replay against its target."""
    rows = []
    providers = get(r, "providers")
    for p in providers if isinstance(providers, list) else []:
        label = PROVIDER_LABELS.get(get(p, "provider"), f"`{get(p, 'provider')}`")
        rows.append([label, bold(num(get(p, "records_per_s"))), num(get(p, "trades_per_s")),
                     f"{num(get(p, 'records'))} ({num(get(p, 'trades'))} trades)", num(get(p, "exit")), DASH])
    replay = get(r, "replay")
    if isinstance(replay, Mapping):
        per_s = get(replay, "per_s")
        rows.append(["`tickflow replay` (ES sample CSV)", bold(num(per_s)), num(per_s),
                     f"{num(get(replay, 'trades'))} trades", DASH,
                     f"≥ {num(REPLAY_TARGET_PER_S)} {check(per_s, Target('>=', REPLAY_TARGET_PER_S))}"])
    else:
        rows.append(["`tickflow replay` (ES sample CSV)", "failed", DASH, str(replay)[-120:], DASH, DASH])
    header = ["source", "records/s into Kafka", "trades/s", "records", "connector exit", "target"]
    return table(header, rows)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested fields as (dotted key, value) pairs; lists of scalars joined, other lists as JSON."""
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list):
        scalar = all(not isinstance(v, (Mapping, list)) for v in value)
        return [(prefix, ", ".join(num(v) for v in value) if scalar else json.dumps(value))]
    return [(prefix, value)]


def soak_fields(result: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A soak result's figures: every field but the bookkeeping ones."""
    skip = {"bench", "when", "machine"}
    return [(k, v) for k, v in flatten(result) if k.split(".")[0] not in skip]


@benchmark_block("pipeline_soak")
def block_soak(name: str, r: Result, runs: Runs) -> str:
    """The pipeline soak: whatever fields bench/soak.py recorded, one row each."""
    rows = [[f"`{k}`", num(v)] for k, v in soak_fields(r)]
    return table(["field", "value"], rows or [[DASH, DASH]])


# --- the summary ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One line of the benchmark of record."""

    figure: str
    value: str
    reference: str
    met: str
    recorded: str

    def cells(self) -> list[str]:
        """The table cells."""
        return [self.figure, self.value, self.reference, self.met, self.recorded]


def row(figure: str, result: Result | None, value: str, reference: str, mark: str) -> Row:
    """A summary row, or a 'not yet recorded' one when its benchmark has no result."""
    if result is None:
        return Row(figure, "not yet recorded", reference, DASH, DASH)
    return Row(figure, value, reference, mark, date_of(result))


def processor_rows(runs: Runs) -> list[Row]:
    """End-to-end throughput (the processor beside the passthrough, bare SQL and pandas of its run), its state
    growth, its scaling and bar latency."""
    p, f, lat, sc = (latest(runs, n) for n in ("processor_throughput", "first_job_throughput", "processor_latency",
                                               "processor_scaling"))
    sustained = get(p, "sustained_ticks_per_s")
    to_pass, growth = get(p, "ratio_to_passthrough"), get(p, "state_growth_2m_to_4m")
    p99 = get(lat, "produced_delay_ms.p99")
    on = f" ({num(get(p, 'trades'))} trades, {num(get(p, 'symbols'))} symbols)" if get(p, "symbols") else ""
    rows = [
        row(f"processor md.raw.trades → md.bars, sustained ticks/s{on}", p, bold(num(sustained)),
            f"target {num(PROCESSOR_TARGET_TICKS_PER_S)}; same run: bare Flink SQL "
            f"{num(get(p, 'bare_sql.sustained_ticks_per_s'))}, pandas batch ceiling "
            f"{num(get(p, 'pandas_ticks_per_s'))}",
            met(sustained, Target(">=", PROCESSOR_TARGET_TICKS_PER_S))),
        row("processor ÷ passthrough job, same run (`ratio_to_passthrough`)", p, bold(num(to_pass)),
            f"target ≥ {num(RATIO_TO_PASSTHROUGH_TARGET)}; passthrough "
            f"{num(get(p, 'passthrough.sustained_records_per_s'))} records/s",
            met(to_pass, Target(">=", RATIO_TO_PASSTHROUGH_TARGET))),
        row("processor keyed state, 2N vs N trades (`state_growth_2m_to_4m`)", p, bold(num(growth)),
            f"target: differ by < {num(STATE_GROWTH_TARGET)}; {state_growth_text(p) if p else DASH}",
            met(abs(growth) if growth is not None else None, Target("<", STATE_GROWTH_TARGET))),
        row("first job Kafka → Flink → Kafka (exactly-once), sustained records/s", f,
            num(get(f, "sustained_records_per_s")), DASH, DASH),
        row("processor scaling, sustained ticks/s by configuration", sc, scaling_summary(sc), DASH, DASH),
        row("bar latency produced, p50 / p99" + latency_at(lat), lat,
            f"{num(get(lat, 'produced_delay_ms.p50'))} / {bold(num(p99, 'ms'))}",
            f"target p99 < {num(PRODUCED_P99_TARGET_MS)} ms", met(p99, Target("<", PRODUCED_P99_TARGET_MS))),
        row("bar latency visible to `read_committed`, p50 / p99", lat,
            f"{num(get(lat, 'visible_delay_ms.p50'))} / {num(get(lat, 'visible_delay_ms.p99'), 'ms')}",
            "the checkpoint commit of exactly-once", DASH),
    ]
    return rows


def latency_at(lat: Mapping[str, Any] | None) -> str:
    """`` at N ticks/s`` of a latency result, or nothing."""
    rate = get(lat, "rate_ticks_per_s")
    return f" at {num(rate)} ticks/s" if is_number(rate) else ""


def scaling_configurations(result: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The configurations a scaling result measured, in its order."""
    found = get(result, "configurations")
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def scaling_summary(result: Mapping[str, Any] | None) -> str:
    """``label rate; …`` of a scaling result's configurations, or —."""
    rows = scaling_configurations(result)
    return "; ".join(f"{get(c, 'label')}: {num(get(c, 'sustained_ticks_per_s'))}" for c in rows) or DASH


def storage_rows(runs: Runs) -> list[Row]:
    """PostgreSQL write rates, the documented queries and the lake's compression."""
    s = latest(runs, "storage_throughput")
    processor = get(latest(runs, "processor_throughput"), "sustained_ticks_per_s")
    trades = get(s, "trades_rows_per_s")
    latest_p95 = get(s, "latest_1m_bar_per_symbol.p95_ms")
    day_p95 = get(s, "one_day_of_1m_bars_one_symbol.p95_ms")
    smaller = get(s, "parquet_smaller_than_json_pct")
    return [
        row("storage: trades into PostgreSQL, rows/s", s, bold(num(trades)),
            f"keep up with the processor's {num(processor)} ticks/s",
            met(trades, Target(">=", processor)) if is_number(processor) else DASH),
        row("storage: 1m bars into PostgreSQL, rows/s", s, num(get(s, "bars_rows_per_s")), DASH, DASH),
        row("query: latest 1m bar of every symbol, p95", s, num(latest_p95, "ms"),
            f"target < {LATEST_BARS_P95_TARGET_MS} ms", met(latest_p95, Target("<", LATEST_BARS_P95_TARGET_MS))),
        row("query: one day of 1m bars for one symbol, p95", s, num(day_p95, "ms"),
            f"target < {ONE_DAY_P95_TARGET_MS} ms", met(day_p95, Target("<", ONE_DAY_P95_TARGET_MS))),
        row("lake: Parquet vs the raw JSON, % smaller", s, bold(f"{num(smaller)}%"),
            f"target ≥ {LAKE_SMALLER_TARGET_PCT}%", met(smaller, Target(">=", LAKE_SMALLER_TARGET_PCT))),
    ]


def job_rows(runs: Runs) -> list[Row]:
    """The data-quality and indicators jobs beside their references."""
    q, i, p = (latest(runs, n) for n in ("quality_throughput", "indicators_throughput", "processor_throughput"))
    return [
        row("data quality md.raw.trades → md.quality, sustained ticks/s", q, num(get(q, "sustained_ticks_per_s")),
            f"the processor {num(get(p, 'sustained_ticks_per_s'))}; pandas {num(get(q, 'pandas_ticks_per_s'))}",
            DASH),
        row("indicators md.bars → md.indicators, sustained bars/s", i, num(get(i, "sustained_bars_per_s")),
            f"the same step in one JVM {num(get(i, 'jvm_alone_bars_per_s'))}; in one Python process "
            f"{num(get(i, 'pure_python_bars_per_s'))}", DASH),
    ]


def connector_rows(runs: Runs) -> list[Row]:
    """Each provider through `tickflow connect`, and the replay against its target."""
    c = latest(runs, "connector_throughput")
    providers = get(c, "providers")
    rows = [row(f"connector: {get(p, 'provider')} → Kafka, records/s", c, num(get(p, "records_per_s")), DASH, DASH)
            for p in (providers if isinstance(providers, list) else [])]
    per_s = get(c, "replay.per_s")
    rows.append(row("`tickflow replay` → Kafka, trades/s", c, bold(num(per_s)),
                    f"target {num(REPLAY_TARGET_PER_S)}", met(per_s, Target(">=", REPLAY_TARGET_PER_S))))
    return rows


def verdicts(result: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """A soak's pass/fail fields: the booleans of its ``verdicts`` mapping (but the overall ``passed``)
    when it has one, else every boolean field named ``ok``, by the path that holds it."""
    named = result.get("verdicts")
    if isinstance(named, Mapping):
        found = [(str(k), v) for k, v in named.items() if isinstance(v, bool) and k != "passed"]
        if found:
            return found
    return [(k.rsplit(".", 1)[0] if "." in k else "", v) for k, v in flatten(result)
            if k.split(".")[-1] == "ok" and isinstance(v, bool)]


def soak_met(result: Mapping[str, Any]) -> str:
    """✔ when every verdict the soak recorded holds, ✘ with the failing ones, — when it recorded none."""
    found = verdicts(result)
    if not found:
        return DASH
    failed = [path or "overall" for path, ok in found if not ok]
    return "✔ met" if not failed else "✘ not met: " + ", ".join(failed)


# Figures a soak result may hold (bench/soak.py), shown in the summary when present: (label, first, last, unit).
SOAK_HEADLINES = (
    ("p99 bar delay, first → last third", "latency_drift.first_p99_ms", "latency_drift.last_p99_ms", "ms"),
    ("TaskManager RSS, first → last third", "memory.tm_rss_mb.median_by_third.first",
     "memory.tm_rss_mb.median_by_third.last", "MB"),
    ("longest checkpoint", "checkpoints.max_duration_ms", None, "ms"),
)


def soak_summary(result: Mapping[str, Any]) -> str:
    """A soak's headline: its rate and length (top-level fields), and the figures of ``SOAK_HEADLINES`` it
    recorded; else how many figures it holds."""
    top = [(str(k), v) for k, v in result.items() if is_number(v)]
    rate = next((v for k, v in top if "rate" in k.lower()), None)
    minutes = next((v for k, v in top if "minute" in k.lower()), None)
    parts = ([f"{num(rate)} ticks/s"] if rate is not None else []) + (
        [f"for {num(minutes)} min"] if minutes is not None else [])
    head = " ".join(parts)
    for label, first, last, unit in SOAK_HEADLINES:
        a, b = get(result, first), get(result, last) if last else None
        if is_number(a) and (last is None or is_number(b)):
            head += f"; {label} {num(a)}" + (f" → {num(b)}" if last else "") + f" {unit}"
    return head.lstrip("; ") or f"{len(soak_fields(result))} figures"


def soak_rows(runs: Runs) -> list[Row]:
    """The pipeline soak, however bench/soak.py shapes its result."""
    s = latest(runs, "pipeline_soak")
    value = soak_summary(s) if s is not None else ""
    mark = soak_met(s) if s is not None else DASH
    n = len(verdicts(s)) if s is not None else 0
    reference = f"its {n} verdicts all hold (bench/README.md, pipeline soak)" if n else \
        "steady over its thirds (bench/README.md, pipeline soak)"
    return [row("pipeline soak (whole pipeline, one session cluster)", s, value, reference, mark)]


def block_record(runs: Runs) -> str:
    """The benchmark of record: every headline figure beside its reference or target."""
    rows = processor_rows(runs) + storage_rows(runs) + job_rows(runs) + connector_rows(runs) + soak_rows(runs)
    return table(["figure", "value", "reference / target", "met?", "recorded"], [r.cells() for r in rows])


# --- the machine ------------------------------------------------------------------------------------

def cpu_model(cpuinfo: str) -> str:
    """The CPU model from /proc/cpuinfo's text."""
    m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return m.group(1).strip() if m else DASH


def memory_gib(meminfo: str) -> str:
    """MemTotal from /proc/meminfo's text, in GiB."""
    m = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.M)
    return f"{int(m.group(1)) / 1024 ** 2:.1f} GiB" if m else DASH


def pretty_name(os_release: str) -> str:
    """PRETTY_NAME from /etc/os-release's text."""
    m = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', os_release, re.M)
    return m.group(1) if m else DASH


def kafka_version(jar_names: Iterable[str]) -> str:
    """The broker version from the kafka_<scala>-<version>.jar the stack runs."""
    for jar in sorted(jar_names):
        m = re.fullmatch(r"kafka_(\d+\.\d+)-(.+)\.jar", jar)
        if m:
            return f"{m.group(2)} (Scala {m.group(1)})"
    return DASH


def read_text(path: str) -> str:
    """A file's text, or '' when it cannot be read."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def command_output(cmd: Sequence[str]) -> str:
    """The first line a command prints (stdout, else stderr), or — when it cannot run."""
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return DASH
    lines = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return lines[0] if lines else DASH


def java_binary() -> str | None:
    """The java the stack runs: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


def package_version(name: str) -> str:
    """An installed Python distribution's version, or —."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return DASH


def postgres_version() -> str:
    """`postgres --version` of the binaries the stack runs."""
    sys.path.insert(0, str(ROOT))
    try:
        from tickflow.stack import postgres_bindir

        return command_output([str(postgres_bindir() / "postgres"), "--version"])
    except Exception:  # noqa: BLE001 - no PostgreSQL installed: say so in the table
        return DASH


def kafka_jars() -> list[str]:
    """The jar names of the Kafka broker the stack runs."""
    sys.path.insert(0, str(ROOT))
    try:
        from tickflow.runtime import config

        return [p.name for p in (config.load().jars / "kafka-broker").glob("*.jar")]
    except Exception:  # noqa: BLE001 - jars not gathered yet
        return []


def gather_machine() -> dict[str, str]:
    """Describe this machine and its software (reads /proc, /etc, runs java and postgres)."""
    java = java_binary()
    return {
        "CPU": cpu_model(read_text("/proc/cpuinfo")),
        "cores": str(os.cpu_count() or DASH),
        "memory": memory_gib(read_text("/proc/meminfo")),
        "OS": pretty_name(read_text("/etc/os-release")),
        "kernel": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
        "Java": command_output([java, "-version"]) if java else DASH,
        "apache-flink": package_version("apache-flink"),
        "Kafka broker": kafka_version(kafka_jars()),
        "PostgreSQL": postgres_version(),
    }


def block_machine(machine: Mapping[str, str], runs: Runs) -> str:
    """The machine table, and what each result says of the machine it ran on."""
    recorded = sorted({str(get(latest(runs, n), "machine")) for n in runs if get(latest(runs, n), "machine")})
    noted = "; ".join(f"`{m}`" for m in recorded) or DASH
    return (table(["", "this machine"], [[k, v] for k, v in machine.items()]) + "\n\n"
            + "Described when this file was rendered, on the machine that rendered it (`bench/record.py` runs "
              "the benchmarks, then renders, so after `make bench` it is the machine they ran on). Each result "
              f"also records its own summary; the latest results say: {noted}.")


def block_fault_suite(runs: Runs) -> str:
    """Every run of the latest `make test-e2e` suite (tests/e2e/test_fault_tolerance.py records each run,
    pass or fail, with every difference from the undisturbed run when there are any)."""
    results = runs.get("fault_suite") or []
    if not results:
        return "_not yet recorded_: `bench/results/fault_suite.jsonl` is absent (run `make test-e2e`)."
    suite = max(r["suite"] for r in results)
    lines = [r for r in results if r["suite"] == suite]
    rows = [[f"`{r['scenario']}`", str(r.get("round", DASH)),
             "✔ equal" if r.get("equal_to_undisturbed") else f"✘ {r.get('difference', '')[:160]}",
             num(r.get("seconds"), "s"), num(r.get("bars_records")), num(r.get("revisions")),
             num(r.get("trade_rows")), num(r.get("lake_rows")), num(r.get("dead_letters")),
             ", ".join(f"{job} {n}" for job, n in (r.get("job_failures") or {}).items()) or DASH,
             num(r.get("taskmanager_metaspace_mb"), "MB")]
            for r in lines]
    first = lines[0]
    faulted = [r for r in lines if r["scenario"] != "undisturbed"]
    passed = sum(1 for r in faulted if r.get("equal_to_undisturbed"))
    shape = (f"{num(first.get('trades'))} records ({num(first.get('symbols'))} symbols, rejects of every kind) "
             f"at {num(int(first.get('rate') or 0))}/s, parallelism {first.get('parallelism', 1)}")
    return (table(["scenario", "run", "outputs vs undisturbed", "took", "md.bars records", "revisions",
                   "trades rows", "lake rows", "dead letters", "failures recovered", "TaskManager Metaspace"],
                  rows) + "\n\n"
            + f"Suite started {suite.replace('T', ' ').rstrip('Z')} UTC: {shape} per run; {passed} of "
              f"{len(faulted)} faulted runs equal to the undisturbed one (`bench/results/fault_suite.jsonl`, "
              "rendered by `bench/record.py --render-only`).")


# --- rendering --------------------------------------------------------------------------------------

MARKER = re.compile(r"(<!-- figures:(?P<name>[\w-]+) -->)\n(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.S)

BLOCKS: dict[str, Callable[[Runs], str]] = {
    "record": block_record,
    "first_job_throughput": block_first_job,
    "processor_throughput": block_processor_throughput,
    "processor_latency": block_processor_latency,
    "processor_scaling": block_processor_scaling,
    "indicators_throughput": block_indicators,
    "storage_throughput": block_storage,
    "quality_throughput": block_quality,
    "quality_flood": block_quality_flood,
    "connector_throughput": block_connectors,
    "pipeline_soak": block_soak,
    "fault_suite": block_fault_suite,
}


def render_blocks(runs: Runs, machine: Mapping[str, str]) -> dict[str, str]:
    """The content of every generated block."""
    return {**{name: render(runs) for name, render in BLOCKS.items()}, "machine": block_machine(machine, runs)}


def replace_blocks(text: str, blocks: Mapping[str, str]) -> str:
    """The text with each known block's content replaced; blocks it does not know, and all text outside
    the markers, are left as they are."""
    def sub(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in blocks:
            return m.group(0)
        return f"{m.group(1)}\n\n{blocks[name].strip()}\n\n{m.group(4)}"

    return MARKER.sub(sub, text)


def markers_in(text: str) -> set[str]:
    """The names of the generated blocks a document holds."""
    return {m.group("name") for m in MARKER.finditer(text)}


def shown(path: Path) -> str:
    """A path relative to the project root when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def render(documents: Sequence[Path], runs: Runs, machine: Mapping[str, str]) -> list[str]:
    """Rewrite the documents' blocks; one line per document changed and per block no document holds."""
    blocks = render_blocks(runs, machine)
    said, seen = [], set()
    for doc in documents:
        text = doc.read_text()
        seen |= markers_in(text)
        new = replace_blocks(text, blocks)
        if new != text:
            doc.write_text(new)
            said.append(f"rendered {shown(doc)}")
    said += [f"no document holds the block {name!r}" for name in sorted(set(blocks) - seen)]
    return said


def draw_plots(runs: Runs, results_dir: Path = RESULTS) -> list[str]:
    """The PNG plots of bench/plots.py (throughput against its references, the soak over time) into
    ``results_dir``, where bench/README.md links them; a line each."""
    sys.path.insert(0, str(BENCH))
    try:
        import plots
    except ImportError as exc:  # matplotlib missing: the tables still render
        return [f"no plots drawn: {exc}"]
    return plots.write_plots(runs, results_dir)


# --- running ----------------------------------------------------------------------------------------

def selected(only: str | None) -> list[Benchmark]:
    """The benchmarks --only names (comma-separated), in the order of record; all of them without it."""
    if not only:
        return list(BENCHMARKS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [b for b in BENCHMARKS if b.name in names]


def run_one(bench: Benchmark, dry_run: bool) -> str | None:
    """Run one benchmark as its own process from the project root; a one-line failure, or None."""
    cmd = bench.command(sys.executable)
    if not (BENCH / bench.script).exists():
        if bench.optional:
            print(f"skipped {bench.name}: bench/{bench.script} is not there yet", flush=True)
            return None
        return f"{bench.name}: bench/{bench.script} does not exist"
    print(("would run: " if dry_run else "running: ") + " ".join(cmd), flush=True)
    if dry_run:
        return None
    code = subprocess.run(cmd, cwd=ROOT).returncode
    return f"{bench.name}: exit {code} ({' '.join(bench.command())})" if code != 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks (or not), then render every figure."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated benchmark names: " + ", ".join(BY_NAME))
    p.add_argument("--render-only", action="store_true", help="run nothing; re-render from bench/results")
    p.add_argument("--dry-run", action="store_true", help="print the commands it would run; render nothing")
    args = p.parse_args(argv)
    failures: list[str] = []
    if not args.render_only:
        for bench in selected(args.only):
            failure = run_one(bench, args.dry_run)
            if failure:
                print(f"FAILED {failure}", flush=True)
                failures.append(failure)
    if args.dry_run:
        return 1 if failures else 0
    runs = load_runs(RESULTS, [*(b.name for b in BENCHMARKS), *TEST_RESULTS])
    for line in [*draw_plots(runs), *render(DOCUMENTS, runs, gather_machine())]:
        print(line)
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
