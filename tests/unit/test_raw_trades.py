"""The first stage every job of md.raw.trades shares: one identity, one classification."""
from __future__ import annotations

from jobs import (
    data_quality,
    market_data_processor,
    raw_trades,
    storage_writer,
    validation,
)
from tickflow.runtime import config


def trade(**kw):
    base = {"source": "feed", "symbol": "AAA", "seq": 7, "trade_id": None}
    return {**base, **kw}


def test_trades_of_two_symbols_with_one_seq_are_two_trades():
    assert raw_trades.identity(trade(symbol="AAA")) != raw_trades.identity(trade(symbol="BBB"))
    assert raw_trades.identity(trade()) == raw_trades.identity(trade())


def test_an_id_identifies_a_trade_whatever_its_seq_and_only_within_its_symbol():
    assert raw_trades.identity(trade(trade_id="T1", seq=1)) == raw_trades.identity(trade(trade_id="T1", seq=2))
    assert raw_trades.identity(trade(trade_id="T1")) != raw_trades.identity(trade(trade_id="T1", symbol="BBB"))
    assert raw_trades.identity(trade(trade_id="7")) != raw_trades.identity(trade(seq=7)), "an id is not a seq"


def checked_view(statements: list[str]) -> str:
    views = [s for s in statements if "VIEW trades_checked AS" in s]
    assert len(views) == 1
    return " ".join(views[0].split())


def test_the_processor_the_quality_job_and_the_storage_writer_classify_by_one_definition():
    rules = validation.load_rules()
    processor = checked_view(market_data_processor.statements("k:1", market_data_processor.ProcessorOptions(),
                                                              rules))
    quality = checked_view(data_quality.statements("k:1", data_quality.DataQualityOptions(), rules))
    writer = checked_view(storage_writer.statements(config.load(), storage_writer.StorageOptions(), rules, "k:1"))
    assert processor == quality == writer


def test_no_job_keeps_duplicate_state_per_trade_in_sql():
    """Duplicates are judged by the JVM stages (state per symbol in event time), not an OVER per identity."""
    rules = validation.load_rules()
    for stmts in (market_data_processor.statements("k:1", market_data_processor.ProcessorOptions(), rules),
                  data_quality.statements("k:1", data_quality.DataQualityOptions(), rules),
                  storage_writer.statements(config.load(), storage_writer.StorageOptions(), rules, "k:1")):
        text = " ".join(stmts)
        assert " OVER " not in text and "PROCTIME()" not in text


def test_the_first_copy_columns_carry_what_the_duplicate_check_reads():
    needed = {"rt", "source", "symbol", "ts_event", "seq", "trade_id", "reason", "detail"}
    for columns in (data_quality.FIRST_COPY_COLUMNS, storage_writer.FIRST_COPY_COLUMNS):
        assert needed <= {c.strip() for c in columns.split(",")}

