"""The processor's SQL part: what it declares, without a cluster."""
from __future__ import annotations

from jobs import market_data_processor, validation


def test_the_processor_writes_its_bars_twice_committed_and_live():
    stmts = market_data_processor.statements("k:1", market_data_processor.ProcessorOptions(), validation.load_rules())
    sinks = {s.split("TABLE ")[1].split(" ")[0]: " ".join(s.split()) for s in stmts if "CREATE TEMPORARY TABLE" in s}
    assert "'sink.delivery-guarantee' = 'exactly-once'" in sinks["bars_out"] and "'md.bars'" in sinks["bars_out"]
    live = sinks["bars_live"]
    assert "'md.bars.live'" in live and "'sink.delivery-guarantee' = 'at-least-once'" in live
    assert "transactional" not in live
