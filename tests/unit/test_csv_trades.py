"""Replay normalisation: exchange-local times to ns UTC (with DST), exact decimals, seq from the place in time."""
import io
import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from connectors.csv_trades import (
    CsvTradeNormalizer,
    CsvTradeSource,
    LocalClock,
    RowError,
)
from connectors.raw_contract import RawTrade
from connectors.replay import ReplayError, ReplayResult, read_trades

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "raw_trade.schema.json").read_text())
NS = 1_000_000_000


def test_central_daylight_time_is_utc_minus_five():
    # 2013-09-01 17:00:00.083 CDT == 22:00:00.083 UTC
    assert LocalClock("America/Chicago").to_utc_ns("2013-09-01 17:00:00.083") == 1378072800 * NS + 83_000_000


def test_central_standard_time_is_utc_minus_six():
    assert LocalClock("America/Chicago").to_utc_ns("2013-12-02 08:30:00") == 1385994600 * NS


def test_fraction_keeps_every_digit_up_to_nanoseconds():
    clock = LocalClock("UTC")
    assert clock.to_utc_ns("1970-01-01 00:00:01.000000001") == NS + 1
    assert clock.to_utc_ns("1970-01-01 00:00:01.5") == NS + 500_000_000


def test_spring_forward_gap_time_is_rejected():
    with pytest.raises(RowError, match="does not exist"):
        LocalClock("America/Chicago").to_utc_ns("2013-03-10 02:30:00")


def test_fall_back_overlap_reads_first_then_second_occurrence_in_file_order():
    clock = LocalClock("America/Chicago")
    # 2013-11-03: 01:00-02:00 happens twice (CDT, then CST)
    first_0130 = clock.to_utc_ns("2013-11-03 01:30:00")
    first_0159 = clock.to_utc_ns("2013-11-03 01:59:59")
    second_0100 = clock.to_utc_ns("2013-11-03 01:00:00")  # the clock stepped back: second pass
    second_0130 = clock.to_utc_ns("2013-11-03 01:30:00")
    after = clock.to_utc_ns("2013-11-03 02:00:00")
    assert first_0130 == 1383460200 * NS            # 06:30 UTC
    assert second_0100 == first_0159 + NS           # one second after the first pass ended
    assert second_0130 == first_0130 + 3600 * NS
    assert first_0130 < first_0159 < second_0100 < second_0130 < after


@pytest.mark.parametrize("text", ["2013-09-01", "2013-13-01 00:00:00", "2013-09-01 17:00:00.12a",
                                  "2013-09-01 17:00:00.1234567890"])
def test_malformed_timestamp_is_a_row_error(text):
    with pytest.raises(RowError):
        LocalClock("America/Chicago").to_utc_ns(text)


def test_row_becomes_schema_valid_raw_trade_with_exact_decimal_text():
    n = CsvTradeNormalizer(CsvTradeSource())
    ts, value = n.normalize("2013-09-01 17:00:00.083,1640.25,8\n")
    record = json.loads(value)
    jsonschema.validate(record, SCHEMA)
    assert record == {"v": 1, "source": "replay", "symbol": "ES", "venue": "XCME", "ts_event": ts, "ts_recv": ts,
                      "seq": ts // 1_000_000 * 100_000, "price": "1640.25", "size": "8", "trade_id": None,
                      "conditions": []}
    assert Decimal(record["price"]) == Decimal("1640.25")


def test_fast_encoder_matches_the_reference_encoding():
    n = CsvTradeNormalizer(CsvTradeSource(source="replay", symbol="ES", venue="XCME"))
    ts, value = n.normalize("2013-09-01 17:00:00.083,1640.25,8")
    ref = RawTrade("replay", "ES", "XCME", ts, ts, ts // 1_000_000 * 100_000, "1640.25", "8").to_json()
    assert value == ref


@pytest.mark.parametrize("line, reason", [
    ("2013-09-01 17:00:00.083,1640.25", "3 columns"),
    ("2013-09-01 17:00:00.083,abc,8", "price"),
    ("2013-09-01 17:00:00.083,1e3,8", "price"),
    ("2013-09-01 17:00:00.083,1234567890.5,8", "price"),
    ("2013-09-01 17:00:00.083,1640.25,", "volume"),
    ("2013-09-01 17:00:00.083,1640.25,NaN", "volume"),
])
def test_malformed_rows_are_rejected_with_reason(line, reason):
    with pytest.raises(RowError, match=reason):
        CsvTradeNormalizer(CsvTradeSource()).normalize(line)


def test_seq_is_the_place_in_time_in_file_order_and_bad_rows_take_none():
    text = ("DateTime,Price,Volume\n"
            "2013-09-01 17:00:00.083,1640.25,8\n"
            "garbage\n"
            "2013-09-01 17:00:00.083,1640.25,1\n"
            "\n"
            "2013-09-01 17:00:00.084,1640.50,2\n")
    result = ReplayResult()
    seen = []
    rows = list(read_trades(io.StringIO(text), CsvTradeSource(), result, lambda n, r: seen.append(n)))
    ms = json.loads(rows[0][1])["ts_event"] // 1_000_000
    assert [json.loads(v)["seq"] for _, v in rows] == [ms * 100_000, ms * 100_000 + 1, (ms + 1) * 100_000]
    assert result.skipped == 1 and seen == [3] and result.skipped_rows[0][0] == 3


def test_the_same_file_read_twice_numbers_its_trades_alike_and_another_files_trades_differently():
    day1 = "DateTime,Price,Volume\n2013-09-01 17:00:00.083,1640.25,8\n2013-09-01 17:00:00.083,1640.5,1\n"
    day2 = "DateTime,Price,Volume\n2013-09-02 09:30:00.001,1650.25,8\n2013-09-02 09:30:00.001,1650.5,1\n"
    seqs = lambda text: [json.loads(v)["seq"] for _, v in read_trades(io.StringIO(text), CsvTradeSource(),  # noqa
                                                                        ReplayResult())]
    assert seqs(day1) == seqs(day1)
    assert not set(seqs(day1)) & set(seqs(day2))


def test_place_in_time_numbering_remembers_out_of_order_milliseconds_per_symbol():
    from connectors.raw_contract import PositionNumbering, position_seq

    n = PositionNumbering(memory=3)
    ms = 1_000_000
    assert [n.seq("ES", t * ms) for t in (5, 5, 6, 5, 7)] == [
        position_seq(5 * ms, 0), position_seq(5 * ms, 1), position_seq(6 * ms, 0), position_seq(5 * ms, 2),
        position_seq(7 * ms, 0)]
    assert n.seq("NQ", 5 * ms) == position_seq(5 * ms, 0), "each symbol counts its own"
    with pytest.raises(ValueError):
        position_seq(0, 100_000)


def test_wrong_header_refuses_the_whole_file():
    with pytest.raises(ReplayError, match="line 1: expected header"):
        list(read_trades(io.StringIO("a,b,c\n1,2,3\n"), CsvTradeSource(), ReplayResult()))
