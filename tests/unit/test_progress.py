"""The progress line of long work: share, rate and time left; at most one line per interval; silent for
short work."""
import io

from connectors.replay import line_count_hint
from tickflow.runtime.progress import Progress, progress_line


def test_progress_line_with_a_total_gives_share_rate_and_time_left():
    assert progress_line("replay es.csv", 120_000, 500_000, 2.0) == \
        "replay es.csv: 120,000 of 500,000 records (24%), 60,000/s, about 6 s left"


def test_progress_line_without_a_total_gives_count_rate_and_elapsed():
    assert progress_line("job", 3_000, None, 3.0) == "job: 3,000 records, 1,000/s, 3 s"


def test_progress_line_at_the_end_gives_elapsed_instead_of_time_left():
    assert progress_line("job", 10, 10, 5.0) == "job: 10 of 10 records (100%), 2/s, 5 s"


def test_progress_writes_at_most_one_line_per_interval_and_a_last_line():
    now = [0.0]
    out = io.StringIO()
    p = Progress("work", 100, every=5.0, out=out, clock=lambda: now[0])
    for t, done in ((1, 10), (4, 20), (5, 30), (6, 40), (10, 60)):
        now[0] = t
        p.update(done)
    now[0] = 12
    p.finish(100)
    assert out.getvalue().splitlines() == [
        "work: 30 of 100 records (30%), 6/s, about 12 s left",
        "work: 60 of 100 records (60%), 6/s, about 7 s left",
        "work: 100 of 100 records (100%), 8/s, 12 s",
    ]


def test_short_work_stays_silent():
    out = io.StringIO()
    p = Progress("work", 10, every=5.0, out=out, clock=lambda: 0.0)
    p.update(10)
    p.finish()
    assert out.getvalue() == ""


def test_replay_estimates_its_total_from_the_lines_of_a_plain_file(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("DateTime,Price,Volume\n2013-09-01 17:00:00,1,1\n2013-09-01 17:00:01,1,1\n")
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"a":1}\n{"a":2}\n{"a":3}\n')
    assert line_count_hint(csv) == 2
    assert line_count_hint(jsonl) == 3
    assert line_count_hint(tmp_path / "t.parquet") is None
