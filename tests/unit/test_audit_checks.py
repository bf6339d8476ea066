"""The audit's pure parts: revision dedupe, bucket alignment, calendar completeness, lake-vs-table, and the
suites built from expectations/ (tickflow/audit_checks.py, tickflow/audit_suites.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from jobs.trading_days import trading_days
from tickflow import audit_checks as ac
from tickflow import audit_suites as su
from tickflow.audit import failures_of, prepare

MIN = 60_000_000_000
DATE = dt.date(2013, 9, 2)


def ns(text: str) -> int:
    return pd.Timestamp(text, tz="UTC").value


def cme_session(symbol: str, ts: int) -> tuple[int, int]:
    return trading_days("CMES").session(ts)


def bar(start: str, timeframe: str = "1m", revision: int = 0, high: str = "1641", **extra) -> dict:
    step = ac.TIMEFRAME_NS.get(timeframe, MIN)
    row = {"symbol": "ES", "timeframe": timeframe, "bucket_start": ns(start), "bucket_end": ns(start) + step,
           "open": Decimal("1640.25"), "high": Decimal(high), "low": Decimal("1639.5"), "close": Decimal("1640.5"),
           "volume": Decimal("12"), "vwap": Decimal("1640.1"), "trade_count": 5, "revision": revision,
           "pipeline_version": "mdp-1"}
    row.update(extra)
    return row


def test_latest_revisions_keeps_the_highest_revision_of_each_key_and_a_tie_stays_duplicated():
    df = pd.DataFrame([bar("2013-09-02 14:00", revision=0), bar("2013-09-02 14:00", revision=1, high="1642"),
                       bar("2013-09-02 14:01"), bar("2013-09-02 14:01")])
    out = ac.latest_revisions(df, ac.KEYS["bars"], "revision")
    assert list(out["revision"]) == [1, 0, 0]
    assert out.loc[0, "high"] == Decimal("1642")
    assert out.duplicated(list(ac.KEYS["bars"])).sum() == 1


def test_trades_have_no_revisions_and_are_kept_as_they_are():
    df = pd.DataFrame({"source": ["a", "a"], "symbol": ["ES", "ES"], "seq": [1, 1]})
    assert len(ac.latest_revisions(df, ac.KEYS["trades"], None)) == 2


def test_intraday_buckets_are_aligned_to_their_timeframe_and_as_long_as_it():
    assert ac.expected_bucket("5m", "ES", ns("2013-09-02 14:05"), cme_session) == (ns("2013-09-02 14:05"),
                                                                                    ns("2013-09-02 14:10"))
    assert ac.expected_bucket("1h", "ES", ns("2013-09-02 14:30"), cme_session)[0] == ns("2013-09-02 14:00")
    assert ac.expected_bucket("2m", "ES", ns("2013-09-02 14:30"), cme_session) == (-1, -1)


def test_a_daily_bucket_is_the_venues_session_labor_day_closing_early():
    # CME Globex: Labor Day's session opens Sunday 17:00 Chicago and closes early, Monday 12:00 Chicago
    assert ac.expected_bucket("1d", "ES", ns("2013-09-01 22:00"), cme_session) == (ns("2013-09-01 22:00"),
                                                                                    ns("2013-09-02 17:00"))


def test_derived_bucket_columns_flag_a_misaligned_bucket_an_overlap_and_a_row_of_another_date():
    df = pd.DataFrame([bar("2013-09-02 14:00"), bar("2013-09-02 14:01", bucket_end=ns("2013-09-02 14:03")),
                       bar("2013-09-02 14:02"), bar("2013-09-02 14:03:30"), bar("2013-09-03 00:00")])
    out = ac.derive_bucket_columns(df, DATE, cme_session)
    assert list(out["bucket_start"] == out["expected_bucket_start"]) == [True, True, True, False, True]
    assert list(out["bucket_end"] == out["expected_bucket_end"]) == [True, False, True, False, True]
    gaps = out["gap_to_previous_ns"].tolist()
    assert pd.isna(gaps[0]) and gaps[1] == 0 and gaps[2] == -MIN   # 14:02 starts before 14:01's end (14:03)
    assert list(out["in_partition"]) == [True, True, True, True, False]


def test_trades_must_be_in_their_date_and_hour_partition():
    df = pd.DataFrame({"ts_event": [ns("2013-09-02 14:59:59"), ns("2013-09-02 15:00:00"), ns("2013-09-03 00:00")],
                       "hour": [14, 14, 0]})
    assert list(ac.derive_trade_columns(df, DATE)["in_partition"]) == [True, False, False]


def cme_minutes(symbol: str, start: int, end: int) -> list[int]:
    from jobs.quality_measures import trading_minutes

    days = trading_days("CMES")
    return trading_minutes(days.opens, days.closes, start, end, [("15:15", "15:30"), ("16:15", "17:00")],
                           "America/Chicago")


def test_calendar_frame_counts_labor_days_trading_minutes_and_which_have_data():
    # 2013-09-02 UTC: the session until the 12:00 Chicago early close (17:00 UTC), then Tuesday's from 22:00
    have = {ns("2013-09-02 00:00"), ns("2013-09-02 16:59"), ns("2013-09-02 18:00")}
    frame = ac.calendar_frame({"ES": have}, DATE, cme_minutes)
    assert len(frame) == 17 * 60 + 2 * 60
    assert frame["present"].sum() == 2                        # 18:00 UTC is not a trading minute
    assert frame.loc[frame["present"], "minute_utc"].tolist() == ["2013-09-02 00:00", "2013-09-02 16:59"]
    assert ac.completeness(frame) == {"ES": pytest.approx(2 / 1140)}


def test_minutes_with_data_floors_times_to_their_minute_per_symbol():
    df = pd.DataFrame({"symbol": ["ES", "ES", "NQ"],
                       "ts_event": [ns("2013-09-02 14:00:01"), ns("2013-09-02 14:00:59"), ns("2013-09-02 14:02:30")]})
    assert ac.minutes_with_data(df, "ts_event") == {"ES": {ns("2013-09-02 14:00")}, "NQ": {ns("2013-09-02 14:02")}}


def test_reconcile_finds_keys_on_one_side_only_and_values_that_differ():
    lake = pd.DataFrame([bar("2013-09-02 14:00"), bar("2013-09-02 14:01"), bar("2013-09-02 14:02", revision=1)])
    table = pd.DataFrame([bar("2013-09-02 14:00"), bar("2013-09-02 14:02"), bar("2013-09-02 14:03")])
    out = ac.reconcile(lake, table, ac.KEYS["bars"], ac.COMPARED["bars"])
    assert list(out["in_lake"]) == [True, True, True, False]
    assert list(out["in_table"]) == [True, False, True, True]
    assert list(out["same_values"]) == [True, True, False, True]


def test_config_expands_into_per_symbol_range_and_completeness_expectations():
    config = su.parse_config({"default": {"min_completeness": 0.5},
                              "symbols": {"ES": {"price": [500, 10000], "volume_1m": [0, 100]}}})
    assert config.limits("NQ").min_completeness == 0.5 and config.limits("NQ").price is None
    bars = su.symbol_expectations("bars", ["ES", "NQ"], config)
    assert [e["kwargs"]["column"] for e in bars] == ["open", "high", "low", "close", "vwap", "volume"]
    assert su.condition_text(bars[-1]["kwargs"]["row_condition"]) == 'symbol=="ES" and timeframe=="1m"'
    calendar = su.symbol_expectations("bars.calendar", ["NQ", "ES"], config)
    assert [(su.condition_text(e["kwargs"]["row_condition"]), e["kwargs"]["mostly"]) for e in calendar] == [
        ('symbol=="ES"', 0.5), ('symbol=="NQ"', 0.5)]


def test_config_refuses_an_inverted_range_and_an_unknown_key():
    with pytest.raises(ValueError, match="symbols.ES.price"):
        su.parse_config({"symbols": {"ES": {"price": [10, 1]}}})
    with pytest.raises(ValueError, match="unknown keys prices"):
        su.parse_config({"symbols": {"ES": {"prices": [1, 10]}}})


def test_every_suite_in_the_repo_builds_and_the_project_config_covers_es():
    assert su.suite_names("bars") == ["bars", "bars.calendar", "bars.lake_vs_table"]
    assert su.suite_names("indicators") == ["indicators", "indicators.lake_vs_table"]
    for dataset in ac.DATASETS:
        for name in su.suite_names(dataset):
            suite = su.build_suite(su.suite_document(name, ["ES"]))
            assert suite.name == name and len(suite.expectations) >= 2
    es = su.load_config().limits("ES")
    assert es.price[0] <= 1630.75 and 1650 <= es.price[1] and 0 < es.min_completeness <= 0.903


def validate(suite_name: str, df: pd.DataFrame):
    """Run a repo suite on a frame in an ephemeral context (no files written)."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch = context.data_sources.add_pandas("t").add_dataframe_asset("a").add_batch_definition_whole_dataframe("w")
    suite = context.suites.add(su.build_suite(su.suite_document(suite_name, df["symbol"].unique())))
    vd = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    return vd.run(batch_parameters={"dataframe": df}, result_format={"result_format": "COMPLETE"})


def test_the_bars_suite_passes_good_bars_and_names_the_broken_invariant_with_its_row():
    good = pd.DataFrame([bar(f"2013-09-02 14:{m:02d}") for m in range(5)])
    rows = prepare("bars", good, DATE, cme_session)
    assert validate("bars", rows).success
    bad = pd.DataFrame([*good.to_dict("records")[:4], bar("2013-09-02 14:04", high="1639"),
                        bar("2013-09-02 14:00", price_unit="x")]).drop(columns="price_unit")
    rows = prepare("bars", bad, DATE, cme_session)
    result = validate("bars", rows)
    assert not result.success
    failures = {f["described"]: f for f in failures_of(result, rows, list(ac.KEYS["bars"]))}
    pair = "expect_column_pair_values_a_to_be_greater_than_b(column_A=high, column_B=low, or_equal=True)"
    assert failures[pair]["unexpected_count"] == 1
    assert failures[pair]["sample"] == [{"symbol": "ES", "timeframe": "1m", "bucket_start": ns("2013-09-02 14:04"),
                                         "high": 1639.0, "low": 1639.5}]
    assert "expect_compound_columns_to_be_unique(column_list=['symbol', 'timeframe', 'bucket_start'])" in failures


def test_the_indicator_suite_skips_warm_up_nulls_and_catches_an_rsi_above_100_and_crossed_bands():
    base = {"symbol": "ES", "timeframe": "1m", "bar_revision": 0, "indicator_set": 1, "sma_20": None,
            "sma_50": None, "ema_12": 1640.0, "ema_26": None, "rsi_14": None, "bb_upper": None, "bb_mid": None,
            "bb_lower": None, "atr_14": None, "vwap_day": 1640.0, "stoch_k": None, "stoch_d": None}
    rows = [{**base, "bucket_start": ns(f"2013-09-02 14:{m:02d}"), "bucket_end": ns(f"2013-09-02 14:{m:02d}") + MIN}
            for m in range(3)]
    rows[1].update(rsi_14=55.0, bb_upper=1641.0, bb_mid=1640.0, bb_lower=1639.0)
    df = prepare("indicators", pd.DataFrame(rows), DATE, cme_session)
    assert validate("indicators", df).success
    rows[2].update(rsi_14=101.0, bb_upper=1639.0, bb_mid=1640.0, bb_lower=1641.0)
    result = validate("indicators", prepare("indicators", pd.DataFrame(rows), DATE, cme_session))
    failed = {r.expectation_config.kwargs.get("column") or r.expectation_config.kwargs.get("column_A")
              for r in result.results if not r.success}
    assert failed == {"rsi_14", "bb_mid", "bb_upper"}
