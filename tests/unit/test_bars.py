"""Bar arithmetic: ties, arrival order, roll-ups, trading days, the record."""
import random
from decimal import Decimal as D

import jsonschema
import json
from pathlib import Path

from jobs.bars import bar_record, bucket_for, bucket_start, decimal_text, trade_bar, trading_days

M = 60 * 10**9
T0 = 1378072800 * 10**9  # 2013-09-01 22:00:00 UTC, minute aligned


def build(trades):
    bar = None
    for ts, seq, price, size in trades:
        part = trade_bar("ES", ts, seq, D(price), D(size), "replay")
        if bar is None:
            bar = part
        else:
            bar.merge(part)
    return bar


def test_ties_on_the_same_timestamp_are_ordered_by_seq_whatever_the_arrival_order():
    trades = [(T0 + 5, 1, "10", "1"), (T0 + 5, 2, "11", "1"), (T0 + 5, 3, "9", "1"), (T0 + 5, 4, "12", "2")]
    for order in (trades, trades[::-1], [trades[2], trades[0], trades[3], trades[1]]):
        bar = build(order)
        assert (bar.open, bar.high, bar.low, bar.close) == (D("10"), D("12"), D("9"), D("12"))
        assert bar.volume == D("5") and bar.trade_count == 4


def test_out_of_order_arrival_gives_identical_bar():
    rnd = random.Random(7)
    trades = [(T0 + rnd.randrange(M), i, str(D(1600) + D(rnd.randrange(40)) / 4), str(rnd.randrange(1, 9)))
              for i in range(500)]
    expected = build(sorted(trades))
    shuffled = trades[:]
    rnd.shuffle(shuffled)
    assert build(shuffled) == expected


def test_vwap_is_exact_sum_of_notional_over_volume_rounded_half_even():
    bar = build([(T0, 1, "1640.25", "3"), (T0 + 1, 2, "1640.5", "1"), (T0 + 2, 3, "1640", "2")])
    assert bar.notional == D("1640.25") * 3 + D("1640.5") + D("1640") * 2
    assert bar.vwap == (bar.notional / bar.volume).quantize(D("1e-9"))
    assert str(bar.vwap) == "1640.208333333"


def test_intraday_buckets_are_utc_aligned_and_half_open():
    assert bucket_start(T0 + 59_999_999_999, "1m") == T0
    assert bucket_start(T0 + M, "1m") == T0 + M
    assert bucket_start(T0 + 7 * M, "5m") == T0 + 5 * M
    assert bucket_for(T0 + 61 * M, "1h", trading_days(None)) == (T0 + 60 * M, T0 + 120 * M)


def test_cme_trading_day_starts_five_pm_central_the_evening_before():
    days = trading_days("CMES")
    # Sunday 2013-09-01 17:00 CDT (22:00 UTC) opens the Labor Day session, which closes early, 12:00 CDT
    assert days.session(T0 + 83_000_000) == (T0, T0 + 19 * 3600 * 10**9)
    # Monday 17:00 CDT opens Tuesday's session, closing 17:00 CDT Tuesday
    tue_open = T0 + 24 * 3600 * 10**9
    assert days.session(tue_open) == (tue_open, tue_open + 24 * 3600 * 10**9)


def test_trade_between_sessions_belongs_to_the_next_session():
    days = trading_days("CMES")
    between = T0 + 20 * 3600 * 10**9  # Monday 13:00 CDT, after the early close
    assert days.session(between)[0] == T0 + 24 * 3600 * 10**9


def test_utc_days_without_calendar():
    assert trading_days(None).session(T0 + 5) == (1378080000 * 10**9 - 86400 * 10**9, 1378080000 * 10**9)


def test_decimal_text_is_shortest_exact_form():
    assert decimal_text(D("1640.250000000")) == "1640.25"
    assert decimal_text(D("1600.000000000")) == "1600"
    assert decimal_text(D("0.000000001")) == "0.000000001"


def test_bar_record_matches_schema():
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "bar.schema.json").read_text())
    bar = build([(T0, 1, "1640.25", "3"), (T0 + 1, 2, "1640.5", "1")])
    jsonschema.validate(bar_record(bar), schema)
    assert bar_record(bar)["open"] == "1640.25" and bar_record(bar)["sources"] == ["replay"]


def test_invariants_hold_for_built_bars():
    assert build([(T0, 1, "10", "1"), (T0 + 1, 2, "12", "1")]).invariant_violations() == []
    broken = build([(T0, 1, "10", "1")])
    broken.high = D("9")
    assert broken.invariant_violations()
