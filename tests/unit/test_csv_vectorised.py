"""The CSV replay's vectorised path gives the row path's bytes, and hands back what it cannot read exactly."""
from __future__ import annotations

import io
import json

from connectors.csv_trades import CsvTradeSource
from connectors.csv_vectorised import normalise_clean_csv
from connectors.replay import ReplayResult, read_trades

META = CsvTradeSource()


def row_path(text: str) -> list[bytes]:
    return [v for _, v in read_trades(io.StringIO(text), META, ReplayResult())]


def test_clean_file_gives_the_row_paths_bytes_in_order(tmp_path):
    text = ("DateTime,Price,Volume\n2013-03-10 01:59:59.5,1500,1\n2013-09-01 17:00:00,1640.5,2\n"
            "2013-09-01 17:00:00.083,1640.25,8\n2013-09-01 17:00:00.083,1640.5,1\n"
            "2013-11-03 03:00:00.123456789,-1.000000001,0\n")
    f = tmp_path / "t.csv"
    f.write_text(text)
    assert normalise_clean_csv(f, META) == row_path(text)
    seqs = [json.loads(v)["seq"] for v in row_path(text)]
    assert seqs[3] == seqs[2] + 1, "two trades of one millisecond, ranked in file order"


def test_a_file_that_steps_back_in_time_is_numbered_by_the_row_path(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("DateTime,Price,Volume\n2013-09-01 17:00:01,1640.25,8\n2013-09-01 17:00:00,1640.5,2\n")
    assert normalise_clean_csv(f, META) is None


def test_a_bad_row_sends_the_file_to_the_row_path(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n2013-09-01 17:00:01,1e3,2\n")
    assert normalise_clean_csv(f, META) is None


def test_daylight_saving_overlap_and_gap_are_left_to_the_row_path(tmp_path):
    overlap, gap = tmp_path / "overlap.csv", tmp_path / "gap.csv"
    overlap.write_text("DateTime,Price,Volume\n2013-11-03 01:30:00,1,1\n")
    gap.write_text("DateTime,Price,Volume\n2013-03-10 02:30:00,1,1\n")
    assert normalise_clean_csv(overlap, META) is None
    assert normalise_clean_csv(gap, META) is None


def test_wrong_header_is_left_to_the_row_path(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("Time,Price,Volume\n2013-09-01 17:00:00,1,1\n")
    assert normalise_clean_csv(f, META) is None
