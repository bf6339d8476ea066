"""What every fuzz test asserts about a mutation run."""
from __future__ import annotations

from tests.unit.fuzz.bounded import FuzzReport
from tests.unit.fuzz.conftest import FUZZ_INPUTS

#: outcomes each target's run must reach at least 0.5% of the time, so that a run which only ever hits
#: one path (e.g. every input refused before the interesting code) fails instead of passing vacuously
EXPECTED = {
    "polygon_frame": {"records", "malformed"},
    "polygon_rest": {"records", "malformed", "error"},
    "finnhub_frame": {"records", "malformed"},
    "finnhub_ticks": {"records", "malformed", "error"},
    "databento_live": {"records", "malformed", "error"},
    "databento_control": {"fields"},
    "dbn_file": {"records", "malformed", "skipped"},
    "alphavantage": {"records", "malformed", "wait", "unknown", "bad", "auth_error"},
    "csv_rows": {"records", "skipped", "error"},
    "csv_vectorised": {"fast_path", "row_path"},
    "jsonl": {"records", "skipped"},
    "parquet": {"records", "skipped", "error"},
    "indicators_bar": {"applied", "MALFORMED", "BAD_TYPE", "OHLC_VIOLATION"},
}


def kinds(report: FuzzReport) -> dict[str, int]:
    """How many inputs reached each elementary outcome (outcome names combine them with + / :)."""
    out: dict[str, int] = {}
    for name, n in report.outcomes.items():
        for part in name.replace("/", "+").replace(":", "+").split("+"):
            out[part] = out.get(part, 0) + n
    return out


def assert_classified(report: FuzzReport) -> None:
    failures = "\n".join(f.describe() for f in report.failures)
    assert report.failed == 0, (f"{report.target}: {report.failed} of {report.count} inputs were not classified "
                                f"(kept in .tickflow/fuzz-findings):\n{failures}")
    assert sum(report.outcomes.values()) == FUZZ_INPUTS
    seen = kinds(report)
    rare = {k: seen.get(k, 0) for k in EXPECTED[report.target] if seen.get(k, 0) < FUZZ_INPUTS // 200}
    assert not rare, f"{report.target}: outcomes too rare to trust the run: {rare} of {dict(report.outcomes)}"
