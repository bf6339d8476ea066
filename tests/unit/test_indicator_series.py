"""Revisions, late and duplicate bars: the series always equals a batch computation over the final bars."""
import random

import pytest

from jobs.indicator_math import BarPoint, IndicatorSet
from jobs.indicator_series import IncomingBar, IndicatorSeries, Refused, bar_from_record

M = 60 * 10**9


def bar(i: int, close: float, revision: int = 0) -> IncomingBar:
    return IncomingBar(i * M, (i + 1) * M, revision, BarPoint(close + 1, close - 1, close, 10.0, close, 0))


def batch(bars: list[IncomingBar]) -> dict[int, dict]:
    s = IndicatorSet(1)
    return {b.bucket_start: s.update(b.point) for b in sorted(bars, key=lambda b: b.bucket_start)}


def closes(n: int, seed: int = 1) -> list[float]:
    rnd = random.Random(seed)
    x, out = 100.0, []
    for _ in range(n):
        x += rnd.uniform(-1, 1)
        out.append(round(x, 2))
    return out


def test_in_order_bars_equal_the_batch_computation():
    bars = [bar(i, c) for i, c in enumerate(closes(120))]
    series, got = IndicatorSeries(1), {}
    for b in bars:
        for start, _, _, values in series.apply(b):
            got[start] = values
    assert got == batch(bars)


def test_a_revision_recomputes_from_that_bar_on_and_only_from_there():
    bars = [bar(i, c) for i, c in enumerate(closes(80))]
    series = IndicatorSeries(1)
    for b in bars:
        series.apply(b)
    revised = bar(75, 150.0, revision=1)
    changed = series.apply(revised)
    assert [c[0] for c in changed] == [i * M for i in range(75, 80)]
    assert changed[0][2] == 1
    final = bars[:75] + [revised] + bars[76:]
    expected = batch(final)
    assert {c[0]: c[3] for c in changed} == {s: expected[s] for s in range(75 * M, 80 * M, M)}


def test_a_revision_of_the_newest_bar_replaces_it_instead_of_adding_to_it():
    bars = [bar(i, c) for i, c in enumerate(closes(80))]
    series = IndicatorSeries(1)
    for b in bars:
        series.apply(b)
    revised = bar(79, 150.0, revision=1)
    (start, _, revision, values), = series.apply(revised)
    assert (start, revision) == (79 * M, 1)
    assert values == batch(bars[:79] + [revised])[79 * M]


def test_a_late_new_bar_between_others_is_inserted_and_replayed():
    cs = closes(60)
    bars = [bar(i, c) for i, c in enumerate(cs) if i != 57]
    series = IndicatorSeries(1)
    for b in bars:
        series.apply(b)
    late = bar(57, cs[57])
    changed = series.apply(late)
    assert [c[0] // M for c in changed] == [57, 58, 59]
    expected = batch(bars + [late])
    assert all(expected[c[0]] == c[3] for c in changed)


def test_duplicates_and_older_revisions_are_refused_without_changing_state():
    series = IndicatorSeries(1)
    for i, c in enumerate(closes(30)):
        series.apply(bar(i, c))
    before = series.state()
    for repeat in (bar(29, 1.0), bar(20, 5.0)):
        with pytest.raises(Refused) as e:
            series.apply(repeat)
        assert e.value.reason == "DUPLICATE"
    assert series.state() == before


def test_a_bar_older_than_the_kept_history_is_out_of_order():
    series = IndicatorSeries(1, keep=4)
    for i, c in enumerate(closes(10)):
        series.apply(bar(i + 100, c))
    with pytest.raises(Refused) as e:
        series.apply(bar(50, 99.0))
    assert e.value.reason == "OUT_OF_ORDER"


def test_the_state_survives_a_round_trip_through_plain_data():
    import pickle

    bars = [bar(i, c) for i, c in enumerate(closes(70))]
    a = IndicatorSeries(1)
    for b in bars[:40]:
        a.apply(b)
    b2 = IndicatorSeries(1, state=pickle.loads(pickle.dumps(a.state())))
    rest = [b2.apply(b)[0][3] for b in bars[40:]]
    assert rest == [batch(bars)[b.bucket_start] for b in bars[40:]]


RECORD = {"symbol": "ES", "timeframe": "1m", "bucket_start": 0, "bucket_end": M, "open": "10", "high": "12",
          "low": "9", "close": "11", "volume": "5", "vwap": "10.5", "trade_count": 3, "revision": 0}


@pytest.mark.parametrize("change, reason", [
    ({"high": "10.5"}, "OHLC_VIOLATION"),        # close above high
    ({"low": "10.5"}, "OHLC_VIOLATION"),         # open below low
    ({"volume": "-1"}, "OHLC_VIOLATION"),
    ({"close": "NaN"}, "BAD_TYPE"),
    ({"close": None}, "BAD_TYPE"),
    ({"bucket_end": 0}, "BAD_TYPE"),
])
def test_bad_bars_are_refused_with_a_reason(change, reason):
    with pytest.raises(Refused) as e:
        bar_from_record({**RECORD, **change}, lambda t: 0)
    assert e.value.reason == reason


def test_a_zero_range_bar_is_taken_and_does_not_poison_the_state():
    series = IndicatorSeries(2)
    flat = {**RECORD, "open": "10", "high": "10", "low": "10", "close": "10"}
    for i in range(40):
        out = series.apply(bar_from_record({**flat, "bucket_start": i * M, "bucket_end": (i + 1) * M},
                                           lambda t: 0))
    values = out[-1][3]
    assert values["stoch_k"] == 0.0 and values["atr_14"] == 0.0 and values["rsi_14"] == 0.0


@pytest.mark.parametrize("indicator_set", [1, 2])
def test_records_match_the_indicators_schema_before_and_after_warm_up(indicator_set):
    import json

    import jsonschema

    from jobs.indicators import indicator_record
    from tickflow.topics import SCHEMAS_DIR

    schema = json.loads((SCHEMAS_DIR / "indicators.schema.json").read_text())
    series = IndicatorSeries(indicator_set)
    for i, c in enumerate(closes(60)):
        (start, end, revision, values), = series.apply(bar(i, c))
        record = indicator_record("ES", "1m", start, end, revision, indicator_set, values)
        jsonschema.validate(json.loads(json.dumps(record)), schema)
    assert record["macd_signal"] is not None and ("stoch_d" in record) == (indicator_set == 2)
