"""Each validation rule of jobs/market_rules.yaml, through the Python reference evaluator, and the SQL it
compiles to."""
from decimal import Decimal as D

import pytest

from jobs.validation import compile_sql, evaluate, load_rules, parse_rules

RULES = load_rules()
NOW = 1_800_000_000 * 10**9
TRADE = {"source": "replay", "symbol": "ES", "venue": "XCME", "ts_event": 1378072800083000000,
         "seq": 1, "price": D("1640.25"), "size": D("8"), "trade_id": None}
QUOTE = {"source": "polygon", "symbol": "AAPL", "venue": "XNAS", "ts_event": 1700000000123456789, "seq": 1,
         "bid": D("189.70"), "bid_size": D("300"), "ask": D("189.72"), "ask_size": D("200")}


def test_good_trade_and_quote_pass():
    assert evaluate(RULES, "trades", TRADE, NOW) is None
    assert evaluate(RULES, "quotes", QUOTE, NOW) is None


@pytest.mark.parametrize("change, code", [
    ({"price": D("0")}, "NON_POSITIVE_PRICE"),
    ({"price": D("-1640.25")}, "NON_POSITIVE_PRICE"),
    ({"size": D("-1")}, "NEGATIVE_SIZE"),
    ({"size": D("0")}, "NON_POSITIVE_SIZE"),
    ({"ts_event": 1378072800}, "BAD_TYPE"),                 # seconds, not ns
    ({"ts_event": 1378072800083}, "BAD_TYPE"),              # ms, not ns
    ({"ts_event": NOW + 6 * 10**9}, "FUTURE_TIMESTAMP"),
    ({"price": D("99.75")}, "OUTLIER"),                      # below ES's band
    ({"price": D("20000.25")}, "OUTLIER"),
])
def test_trade_rule(change, code):
    assert evaluate(RULES, "trades", {**TRADE, **change}, NOW) == code


def test_future_tolerance_is_inclusive_of_five_seconds():
    assert evaluate(RULES, "trades", {**TRADE, "ts_event": NOW + 5 * 10**9}, NOW) is None


def test_symbol_without_band_is_not_an_outlier():
    assert evaluate(RULES, "trades", {**TRADE, "symbol": "ZZ", "price": D("0.0001")}, NOW) is None


@pytest.mark.parametrize("change, code", [
    ({"bid": D("189.73")}, "CROSSED_QUOTE"),
    ({"bid": D("189.72")}, "CROSSED_QUOTE"),                 # locked
    ({"bid": D("0")}, "NON_POSITIVE_PRICE"),
    ({"ask_size": D("0")}, "NON_POSITIVE_SIZE"),
    ({"bid_size": D("-5")}, "NON_POSITIVE_SIZE"),
])
def test_quote_rule(change, code):
    assert evaluate(RULES, "quotes", {**QUOTE, **change}, NOW) == code


def test_first_matching_rule_wins():
    assert evaluate(RULES, "trades", {**TRADE, "price": D("0"), "size": D("-1")}, NOW) == "NON_POSITIVE_PRICE"


def test_compiled_sql_lists_every_rule_in_order_after_parse_errors():
    reason, detail = compile_sql(RULES, "trades")
    assert reason.startswith("CASE WHEN parse_reason IS NOT NULL THEN parse_reason")
    codes = [r.code for r in RULES.trades]
    positions = [reason.index(f"THEN '{c}'", reason.index(f"THEN '{codes[i - 1]}'") + 1 if i else 0)
                 for i, c in enumerate(codes)]
    assert positions == sorted(positions)
    assert "symbol = 'ES'" in reason and "UNIX_TIMESTAMP()" in reason
    assert detail.count("WHEN") == reason.count("WHEN")


def test_unknown_check_or_code_is_refused():
    doc = {"limits": {"future_tolerance_s": 1, "min_ts_event_ns": 0}, "quotes": [],
           "trades": [{"code": "NON_POSITIVE_PRICE", "check": "sometimes", "field": "price"}]}
    with pytest.raises(ValueError, match="unknown check"):
        parse_rules(doc)
    doc["trades"] = [{"code": "WHATEVER", "check": "negative", "field": "price"}]
    with pytest.raises(ValueError, match="unknown reason code"):
        parse_rules(doc)


def test_symbols_anchor_to_their_home_venue_calendar():
    rules = load_rules()
    assert rules.symbol_calendar("ES") == "CMES"
    assert rules.symbol_calendar("UNKNOWN") is None
