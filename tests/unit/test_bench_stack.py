"""bench/bench_stack.py's arithmetic: the sustained rate (start-up excluded), the trades each 1m bar record
adds (a revision re-emits its whole bar) and the workload of a benchmark's --trades."""
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_saved = dict(os.environ)   # importing it points TICKFLOW_* at the bench stack: not for the other tests
try:
    _spec = importlib.util.spec_from_file_location("bench_stack_under_test", ROOT / "bench" / "bench_stack.py")
    bench_stack = importlib.util.module_from_spec(_spec)
    sys.modules["bench_stack_under_test"] = bench_stack
    _spec.loader.exec_module(bench_stack)
finally:
    os.environ.clear()
    os.environ.update(_saved)


def bar(symbol: str, minute: int, revision: int, trades: int) -> bytes:
    return json.dumps({"symbol": symbol, "timeframe": "1m", "bucket_start": minute, "revision": revision,
                       "trade_count": trades}).encode()


def test_sustained_rate_leaves_out_the_first_record():
    rate, span = bench_stack.sustained_rate([(3_000, 50), (1_000, 999), (2_000, 50)])
    assert span == 2.0
    assert rate == 50.0     # (50 + 50) ÷ 2 s; the first record's 999 came with the start-up
    assert bench_stack.sustained_rate([(1, 5)]) == (0.0, 0.0)


def test_bar_increments_count_each_trade_once_across_revisions():
    records = [
        (1_000, b"A|1m|0", bar("A", 0, 0, 10)),
        (1_100, b"B|1m|0", bar("B", 0, 0, 4)),
        (1_200, b"A|1m|0", bar("A", 0, 1, 12)),       # a late trade re-emits A's bar with 12
        (1_300, b"A|1m|0", bar("A", 0, 1, 12)),       # the same revision again: nothing new
        (1_400, b"A|5m|0", json.dumps({"timeframe": "5m", "revision": 0, "trade_count": 12}).encode()),
    ]
    stamped, final = bench_stack.bar_increments(records)
    assert stamped == [(1_000, 10), (1_100, 4), (1_200, 2)]
    assert {k: b["trade_count"] for k, b in final.items()} == {"A|1m|0": 12, "B|1m|0": 4}


def test_workload_spec_in_whole_rounds_above_one_sample():
    big = bench_stack.workload_spec(2_000_000, 200, 0.03)
    assert (big.rounds, big.limit, big.symbols, big.reject_share) == (4, None, 200, 0.03)
    assert bench_stack.workload_spec(4_000_000).rounds == 8
    small = bench_stack.workload_spec(100_000, 50)
    assert (small.rounds, small.limit) == (1, 100_000)
    assert bench_stack.spec_summary(big)["rounds"] == 4


def test_state_when_the_input_ends_is_the_last_checkpoint_with_records_unread():
    sizes = bench_stack.CheckpointSizes.__new__(bench_stack.CheckpointSizes)
    sizes.samples = [
        {"completed": 1, "full_bytes": 100, "records_committed": 10, "duration_ms": 5},
        {"completed": 1, "full_bytes": 100, "records_committed": 10, "duration_ms": 5},   # sampled twice
        {"completed": 2, "full_bytes": 300, "records_committed": 50, "duration_ms": 5},
        {"completed": 3, "full_bytes": 250, "records_committed": 90, "duration_ms": 5},
        {"completed": 4, "full_bytes": 20, "records_committed": 100, "duration_ms": 5},   # tasks finished
    ]
    assert sizes.before_end(100)["completed"] == 3
    assert sizes.largest()["completed"] == 2
    assert sizes.series() == [[10, 100], [50, 300], [90, 250], [100, 20]]
    sizes.samples = [{"completed": 1, "full_bytes": 7, "records_committed": None, "duration_ms": 5}]
    assert sizes.before_end(100)["full_bytes"] == 7
