"""The replay readers (CSV row path and its vectorised fast path, JSON Lines, Parquet, DBN files) classify any
file within a time bound: 100,000 mutated files per reader (watched child process, 1 s of CPU per input),
and Hypothesis properties that build files by structure. The fast CSV path must give the row path's bytes
exactly or leave the file to it."""
from __future__ import annotations

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz import strategies as fz
from tests.unit.fuzz.bounded import time_bound
from tests.unit.fuzz.checks import assert_classified
from tests.unit.fuzz.conftest import hypothesis_settings
from tests.unit.fuzz.targets import (
    IID,
    T0,
    TARGETS,
    TRADES,
    jsonl_seeds,
    parquet_structure,
    warm,
)
from tickflow_testkit.dbn_writer import metadata_bytes

READERS = ["csv_rows", "csv_vectorised", "jsonl", "parquet", "dbn_file"]


@pytest.mark.parametrize("target", READERS)
def test_mutated_file_is_classified_within_the_time_bound(target, campaign):
    assert_classified(campaign.report(target))


def classified(target: str, data: bytes) -> str:
    warm(target)
    with time_bound(1.0):
        return TARGETS[target].run(data)


@hypothesis_settings(200)
@given(fz.csv_files())
def test_csv_files_of_any_rows_are_read_row_by_row(data):
    classified("csv_rows", data)


@hypothesis_settings(150)
@given(fz.csv_files())
def test_csv_fast_path_gives_the_row_paths_bytes_or_declines(data):
    classified("csv_vectorised", data)


JSONL_TRADE = fz.parsed(jsonl_seeds()[0].split(b"\n")[0])


@hypothesis_settings(200)
@given(st.lists(st.one_of(fz.varied(JSONL_TRADE).map(fz.emit), fz.json_values.map(fz.emit), st.just("")),
                min_size=1, max_size=4), st.sampled_from(["\n", "\r\n"]))
def test_jsonl_lines_of_any_structure_are_read_or_skipped(lines, end):
    classified("jsonl", end.join(lines).encode("utf-8", "surrogatepass"))


@hypothesis_settings(100)
@given(st.randoms(use_true_random=False))
def test_parquet_files_of_any_column_types_are_read_or_refused(rng):
    classified("parquet", parquet_structure(rng))


FILE_HEAD = metadata_bytes("GLBX.MDP3", ["ES"], TRADES[0].ts_ns, None, TRADES[-1].ts_ns + 1, {"ES": IID})


@hypothesis_settings(150)
@given(st.one_of(fz.dbn_stream(FILE_HEAD), fz.dbn_stream(metadata_bytes("GLBX.MDP3", ["ES"], T0))), st.booleans())
def test_dbn_files_of_any_records_are_read(data, compressed):
    classified("dbn_file", zstandard.ZstdCompressor().compress(data) if compressed else data)
