"""Polygon and Finnhub frames → canonical records (pure parsing, no sockets)."""
from __future__ import annotations

import json

from connectors import finnhub, polygon
from connectors.provider import Malformed
from connectors.raw_contract import RawBar, RawQuote, RawTrade
from connectors.symbols import SymbolMap

MAP = SymbolMap("polygon", {"ES": "ESU3"})


def test_polygon_trade_quote_and_aggregate_are_normalised_with_exact_prices():
    frame = ('[{"ev":"T","sym":"ESU3","x":4,"i":"52983525029461","z":3,"p":1640.25,"s":3,"c":[12,41],'
             '"t":1378072800083,"q":1063},'
             '{"ev":"Q","sym":"ESU3","bx":4,"bp":1640.00,"bs":10,"ax":4,"ap":1640.25,"as":7,"c":0,"t":1378072800084,"q":1064},'
             '{"ev":"AM","sym":"ESU3","v":120,"av":120,"op":1640,"vw":1640.1,"o":1640,"c":1640.25,"h":1640.5,'
             '"l":1639.75,"a":1640.1,"z":3,"s":1378072800000,"e":1378072860000}]')
    records, status, unknown = polygon.parse_frame(frame, MAP, 5, "XCME")
    assert status == [] and unknown == []
    trade, quote, bar = records
    assert trade == RawTrade("polygon", "ES", "XCME", 1378072800083000000, 5, 1063, "1640.25", "3",
                             "4:52983525029461", ("12", "41"))
    assert quote == RawQuote("polygon", "ES", "XCME", 1378072800084000000, 5, 1064, "1640", "10", "1640.25", "7")
    assert bar == RawBar("polygon", "ES", "1m", 1378072800000000000, "1640", "1640.5", "1639.75", "1640.25", "120", 5,
                         "1640.1", None)


def test_polygon_bad_event_is_malformed_and_the_rest_of_the_frame_survives():
    frame = '[{"ev":"T","sym":"ES","p":"x"},{"ev":"status","status":"connected"},{"ev":"XQ"}]'
    records, status, unknown = polygon.parse_frame(frame, MAP, 0, None)
    assert isinstance(records[0], Malformed) and json.loads(records[0].original)["p"] == "x"
    assert status[0]["status"] == "connected" and unknown == ["XQ"]
    records, _, _ = polygon.parse_frame('[{"ev":"T"', MAP, 0, None)
    assert isinstance(records[0], Malformed) and records[0].original == b'[{"ev":"T"'


def test_polygon_rest_trade_has_the_same_canonical_form_as_the_stream():
    row = {"conditions": [12], "exchange": 4, "id": "52983525029461", "participant_timestamp": 1378072800083001234,
           "price": 1640.25, "sequence_number": 1063, "sip_timestamp": 1378072800083456789, "size": 3, "tape": 3}
    from decimal import Decimal
    rest = polygon.trade_from_rest({**row, "price": Decimal("1640.25")}, "ES", 5, "XCME")
    ws = polygon.parse_frame('[{"ev":"T","sym":"ESU3","x":4,"i":"52983525029461","p":1640.25,"s":3,"c":[12],'
                             '"t":1378072800083,"q":1063}]', MAP, 5, "XCME")[0][0]
    assert rest == ws


def test_finnhub_trades_have_no_id_and_bad_items_are_malformed():
    frame = ('{"data":[{"p":7296.89,"s":"ES","t":1575526691134,"v":0.011467,"c":["1"]},{"p":"?","s":"ES"}],'
             '"type":"trade"}')
    records, kind, _ = finnhub.parse_frame(frame, SymbolMap("finnhub"), 9, None)
    assert kind == "trade"
    assert records[0] == RawTrade("finnhub", "ES", None, 1575526691134000000, 9, 0, "7296.89", "0.011467", None, ("1",))
    assert isinstance(records[1], Malformed)
    assert finnhub.parse_frame('{"type":"ping"}', SymbolMap("finnhub"), 0, None) == ([], "ping", "")
