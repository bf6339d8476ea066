"""Databento: DBN record mapping, framing, the live gateway protocol against the simulator, and DBN files."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import databento_dbn as dbn
import jsonschema
import pytest

from connectors import dbn_records
from connectors.databento_feed import (
    DatabentoFiles,
    DatabentoLive,
    Normalizer,
    bar_from_dbn,
    create,
    quote_from_dbn,
    read_dbn_file,
    seq_for,
    trade_from_dbn,
)
from connectors.dbn_records import BadFrame, DbnFrameDecoder, FramingError, Skipped, cram_response, parse_control
from connectors.decimals import decimal_text
from connectors.es_sample import Trade, es_sample_csv, read_es_trades
from connectors.metrics import ConnectorMetrics
from connectors.provider import AuthError, Malformed, ProviderError, Record, StreamEnded
from connectors.provider_config import ProviderConfig
from connectors.raw_contract import RawBar, RawQuote, RawTrade
from connectors.symbols import SymbolMap
from tickflow_testkit.dbn_writer import instrument_id_for, metadata_bytes, symbol_mapping_msg, write_dbn_file
from tickflow_testkit.simulators import databento as gateway_module
from tickflow_testkit.simulators.databento import DEFAULT_KEY, GARBAGE_RECORD, DatabentoGateway, read_dbn_trades
from tickflow_testkit.simulators.market import Market

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
N_TRADES = 2_000
RATE = 20_000.0
T0 = 1_378_072_800_083_000_000
IID = 42


@pytest.fixture(scope="module")
def es_trades() -> list[Trade]:
    return read_es_trades(es_sample_csv(ROOT / ".tickflow" / "cache"), N_TRADES)


@pytest.fixture(scope="module")
def es_file(es_trades, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dbn") / "es.dbn"
    write_dbn_file(es_trades, path)
    return path


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def trade(price: int = 1640_250_000_000, size: int = 8, sequence: int = 7, iid: int = IID) -> dbn.TradeMsg:
    return dbn.TradeMsg(1, iid, T0, price, size, dbn.Action.TRADE, dbn.Side.NONE, 0, T0 + 20_000, sequence=sequence)


def mbp1(bid: int = 1640_000_000_000, ask: int = 1640_250_000_000) -> dbn.MBP1Msg:
    level = dbn.BidAskPair(bid_px=bid, ask_px=ask, bid_sz=3, ask_sz=4, bid_ct=1, ask_ct=1)
    return dbn.MBP1Msg(1, IID, T0, ask, 1, dbn.Action.TRADE, dbn.Side.NONE, 0, T0 + 5, sequence=9, levels=level)


def ohlcv() -> dbn.OHLCVMsg:
    start = T0 // 60_000_000_000 * 60_000_000_000
    return dbn.OHLCVMsg(int(dbn.RType.OHLCV_1M), 1, IID, start, 1640_250_000_000, 1641_000_000_000,
                        1639_750_000_000, 1640_500_000_000, 3940)


def normalizer(symbols: SymbolMap | None = None) -> Normalizer:
    norm = Normalizer(symbols or SymbolMap("databento"), "XCME")
    norm.apply(b"", symbol_mapping_msg("ES", IID, T0), None)
    return norm


# --- pure mapping ------------------------------------------------------------------------------------

def test_trade_record_maps_to_exact_decimal_text():
    rec = trade_from_dbn(trade(), "ES", "XCME", 2)
    assert rec == RawTrade("databento", "ES", "XCME", T0, T0 + 20_000, 7002, "1640.25", "8", "42:7:2")
    jsonschema.validate(json.loads(rec.to_json()), schema("raw_trade.schema.json"))


@pytest.mark.parametrize("raw, text", [(1, "0.000000001"), (123_456_789_123_456_789, "123456789.123456789"),
                                       (1640_000_000_000, "1640"), (-5_500_000_000, "-5.5")])
def test_fixed_point_prices_keep_every_digit(raw, text):
    assert trade_from_dbn(trade(price=raw), "ES", None).price == text


def test_mbp1_top_level_maps_to_quote():
    rec = quote_from_dbn(mbp1(), "ES", "XCME")
    assert rec == RawQuote("databento", "ES", "XCME", T0, T0 + 5, 9000, "1640", "3", "1640.25", "4")
    jsonschema.validate(json.loads(rec.to_json()), schema("raw_quote.schema.json"))


def test_ohlcv_1m_maps_to_bar_starting_at_ts_event():
    rec = bar_from_dbn(ohlcv(), "ES", 123)
    start = T0 // 60_000_000_000 * 60_000_000_000
    assert rec == RawBar("databento", "ES", "1m", start, "1640.25", "1641", "1639.75", "1640.5", "3940", 123)
    jsonschema.validate(json.loads(rec.to_json()), schema("raw_bar.schema.json"))
    assert bar_from_dbn(ohlcv(), "ES", None).ts_recv == start + 60_000_000_000  # files: the bar's end


@pytest.mark.parametrize("record", [trade(price=dbn.UNDEF_PRICE), mbp1(bid=dbn.UNDEF_PRICE), mbp1(ask=dbn.UNDEF_PRICE)])
def test_undefined_price_is_malformed_with_the_record_bytes(record):
    out = normalizer().apply(bytes(record), record, 0)
    assert isinstance(out, Malformed) and "UNDEF_PRICE" in out.detail
    assert out.original == bytes(record) and out.symbol == "ES"


def test_record_of_an_unmapped_instrument_is_malformed():
    out = normalizer().apply(bytes(trade(iid=7)), trade(iid=7), 0)
    assert isinstance(out, Malformed) and "unknown instrument id 7" in out.detail


def test_trades_sharing_a_packet_sequence_get_distinct_increasing_seq_and_ids():
    norm = normalizer()
    out = [norm.apply(b"", trade(sequence=s), 0) for s in (7, 7, 7, 8, 9, 9)]
    assert [t.trade_id for t in out] == ["42:7:0", "42:7:1", "42:7:2", "42:8:0", "42:9:0", "42:9:1"]
    assert [t.seq for t in out] == [7000, 7001, 7002, 8000, 9000, 9001]
    quote = norm.apply(b"", mbp1(), 0)  # quotes count apart from trades
    assert quote.seq == 9000
    assert [(t.seq, t.trade_id) for t in (norm.apply(b"", trade(sequence=0), 0) for _ in range(3))] == [
        (0, None), (1, None), (2, None)]  # no sequence: arrival order, no id
    with pytest.raises(ValueError, match="share sequence"):
        seq_for(5, 1000)


def test_provider_symbols_map_back_to_tickflow_names():
    norm = Normalizer(SymbolMap("databento", {"ES": "ESU3"}), "XCME")
    norm.apply(b"", symbol_mapping_msg("ESU3", IID, T0), None)
    assert norm.apply(b"", trade(), 0).symbol == "ES"


def test_control_records_are_not_published_but_reported():
    events: list[tuple[str, str]] = []
    norm = Normalizer(SymbolMap("databento"), "XCME", lambda kind, detail: events.append((kind, detail)))
    status = dbn.StatusMsg(1, IID, T0, T0)
    assert norm.apply(bytes(status), Skipped(int(dbn.RType.STATUS), "STATUS"), 0) is None
    assert norm.apply(b"", dbn.ErrorMsg(T0, "Symbol XX not found"), 0) is None
    assert norm.apply(b"", dbn.SystemMsg(T0, "Heartbeat", dbn.SystemCode.HEARTBEAT), 0) is None
    assert norm.apply(b"", dbn.SystemMsg(T0, "Finished trades replay", dbn.SystemCode.REPLAY_COMPLETED), 0) is None
    assert events == [("unknown_message", "STATUS"), ("gateway_error", "Symbol XX not found")]
    assert norm.replays_completed == 1 and norm.errors == ["Symbol XX not found"]


def test_control_lines_and_cram_response():
    assert parse_control(b"success=0|error=Authentication failed.\n") == {"success": "0",
                                                                        "error": "Authentication failed."}
    key = "db-0123456789abcdefABCDEFGHijklm"
    assert cram_response("Y8fpbx2Zt1", key) == (
        "d2e76a233461791c9aa97af79f0bc6af2e6afb4d01d2322a4501e951d96c8ffe-ijklm")


# --- framing -----------------------------------------------------------------------------------------

def stream_bytes(*records: bytes) -> bytes:
    return metadata_bytes("GLBX.MDP3", ["ES"], 0) + b"".join(records)


def test_decoder_reassembles_records_split_anywhere():
    data = stream_bytes(bytes(symbol_mapping_msg("ES", IID, T0)), bytes(trade()), bytes(mbp1()), bytes(ohlcv()))
    decoder = DbnFrameDecoder()
    items = [item for i in range(len(data)) for item in decoder.feed(data[i:i + 1])]
    assert [type(x).__name__ for _, x in items] == ["Metadata", "SymbolMappingMsg", "TradeMsg", "MBP1Msg", "OHLCVMsg"]
    assert items[2][0] == bytes(trade()) and items[2][1].price == trade().price


def test_well_framed_bad_records_are_kept_as_bad_frames_between_good_ones():
    status = dbn.StatusMsg(1, IID, T0, T0)
    wrong_size = bytes([4, 0]) + bytes(14)  # a 16-byte "trade"
    items = DbnFrameDecoder().feed(stream_bytes(bytes(trade()), GARBAGE_RECORD, wrong_size, bytes(status),
                                                bytes(trade(sequence=8))))
    kinds = [x for _, x in items[1:]]
    assert isinstance(kinds[0], dbn.TradeMsg) and kinds[4].sequence == 8
    assert kinds[1] == BadFrame("unknown DBN record type 0xee") and items[2][0] == GARBAGE_RECORD
    assert kinds[2] == BadFrame("MBP_0 record of 16 bytes, expected 48")
    assert kinds[3] == Skipped(int(dbn.RType.STATUS), "STATUS")


def test_impossible_length_breaks_the_framing_but_keeps_the_records_before_it():
    with pytest.raises(FramingError, match="claims 4 bytes") as info:
        DbnFrameDecoder().feed(stream_bytes(bytes(trade()), bytes([1, 0, 0, 0]), bytes(trade())))
    assert [type(x).__name__ for _, x in info.value.items] == ["Metadata", "TradeMsg"]


def test_stream_that_is_not_dbn_is_rejected():
    with pytest.raises(FramingError, match="DBN metadata header"):
        DbnFrameDecoder().feed(b"HTTP/1.1 400 Bad Request\r\n")


# --- the live gateway, in process --------------------------------------------------------------------

def live_config(gw: DatabentoGateway, **options) -> ProviderConfig:
    return ProviderConfig("databento", {"gateway": gw.gateway, "idle_timeout_s": 5, **options})


async def collect(stream: AsyncIterator[list[Record]], done: Callable[[list[Record]], bool],
                  on_subscribed: Callable[[], None] = lambda: None, timeout: float = 10) -> list[Record]:
    """Records of ``stream`` until ``done(records)``; ``on_subscribed`` runs at the empty 'subscribed' batch."""
    got: list[Record] = []

    async def run() -> None:
        async for batch in stream:
            if not batch:
                on_subscribed()
            got.extend(batch)
            if done(got):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return got


def of(kind: type, records: list[Record]) -> list:
    return [r for r in records if isinstance(r, kind)]


@pytest.fixture
def paused_gateway(es_trades):
    """A gateway whose market starts only when the test says so (after the client has subscribed)."""
    market = Market(es_trades, RATE, start=time.monotonic() + 3600)
    with DatabentoGateway(market) as gw:
        yield gw


@pytest.fixture
def past_gateway(es_trades):
    """A gateway whose market has already happened in full (for intraday replay)."""
    market = Market(es_trades, RATE, start=time.monotonic() - 3600)
    with DatabentoGateway(market) as gw:
        yield gw


def start_market(gw: DatabentoGateway) -> Callable[[], None]:
    def go() -> None:
        gw.market.start = time.monotonic()
    return go


def last_trade_seen(records: list[Record]) -> bool:
    return any(isinstance(r, RawTrade) and r.trade_id and r.trade_id.endswith(f":{N_TRADES}:0")
               for r in records[-4:])


def test_live_stream_delivers_every_trade_exactly_once_with_quotes_and_minute_bars(paused_gateway, es_trades):
    provider = create(live_config(paused_gateway), ConnectorMetrics(), DEFAULT_KEY)
    assert isinstance(provider, DatabentoLive) and provider.can_backfill
    records = asyncio.run(collect(provider.stream(["ES"]), last_trade_seen, start_market(paused_gateway)))
    trades = of(RawTrade, records)
    assert [(t.ts_event, t.price, t.size) for t in trades] == [
        (t.ts_ns, decimal_text(t.price), t.size) for t in es_trades]
    assert [t.seq for t in trades] == [i * 1000 for i in range(1, N_TRADES + 1)]
    assert [t.trade_id for t in trades] == [f"{instrument_id_for('ES')}:{i}:0" for i in range(1, N_TRADES + 1)]
    assert {(t.source, t.symbol, t.venue) for t in trades} == {("databento", "ES", "XCME")}
    assert all(t.ts_recv - t.ts_event == dbn_records.CAPTURE_LATENCY_NS for t in trades)
    quotes = of(RawQuote, records)
    assert len(quotes) == N_TRADES and all(Decimal(q.bid) < Decimal(q.ask) for q in quotes)
    # one bar per completed minute, equal to the minute's trades aggregated here
    minutes: dict[int, list[Trade]] = {}
    for t in es_trades:
        minutes.setdefault(t.ts_ns // 60_000_000_000 * 60_000_000_000, []).append(t)
    completed = sorted(minutes)[:-1]
    bars = of(RawBar, records)
    assert [b.ts_start for b in bars] == completed
    for bar in bars:
        rows = minutes[bar.ts_start]
        prices = [Decimal(t.price) for t in rows]
        assert (Decimal(bar.open), Decimal(bar.high), Decimal(bar.low), Decimal(bar.close)) == (
            prices[0], max(prices), min(prices), prices[-1])
        assert bar.volume == str(sum(int(t.size) for t in rows))
    assert not of(Malformed, records)


def test_refused_login_raises_auth_error(paused_gateway):
    paused_gateway.faults.refuse_auth = True
    provider = create(live_config(paused_gateway), ConnectorMetrics(), DEFAULT_KEY)
    with pytest.raises(AuthError, match="Authentication failed"):
        asyncio.run(collect(provider.stream(["ES"]), lambda r: False))


def test_wrong_key_raises_auth_error(paused_gateway):
    provider = create(live_config(paused_gateway), ConnectorMetrics(), "db-not-the-key-0000000000000000")
    with pytest.raises(AuthError):
        asyncio.run(collect(provider.stream(["ES"]), lambda r: False))


def test_garbage_records_become_malformed_and_the_stream_continues(paused_gateway):
    paused_gateway.faults.garbage_every = 100
    provider = create(live_config(paused_gateway), ConnectorMetrics(), DEFAULT_KEY)
    records = asyncio.run(collect(provider.stream(["ES"]), last_trade_seen, start_market(paused_gateway)))
    bad = of(Malformed, records)
    assert len(bad) == N_TRADES // 100 - 1 or len(bad) == N_TRADES // 100  # the last may follow trade 2000
    assert all(m.original == GARBAGE_RECORD and "0xee" in m.detail for m in bad)
    assert [t.seq for t in of(RawTrade, records)] == [i * 1000 for i in range(1, N_TRADES + 1)]


def test_corrupt_record_length_delivers_what_came_before_then_raises(paused_gateway, monkeypatch):
    monkeypatch.setattr(gateway_module, "GARBAGE_RECORD", bytes([2, 0xEE, 0, 0, 0, 0, 0, 0]))
    paused_gateway.faults.garbage_every = 500
    provider = create(live_config(paused_gateway), ConnectorMetrics(), DEFAULT_KEY)
    got: list[Record] = []

    def done(records: list[Record]) -> bool:
        got[:] = records
        return False

    with pytest.raises(ProviderError, match="claims 8 bytes"):
        asyncio.run(collect(provider.stream(["ES"]), done, start_market(paused_gateway)))
    assert [t.seq for t in of(RawTrade, got)] == [i * 1000 for i in range(1, 501)]  # none before the break lost


def test_silent_gateway_raises_provider_error_after_the_idle_timeout(paused_gateway):
    paused_gateway.faults.stalled = True
    provider = create(live_config(paused_gateway, idle_timeout_s=0.3), ConnectorMetrics(), DEFAULT_KEY)
    with pytest.raises(ProviderError, match="no data for 0.3s"):
        asyncio.run(collect(provider.stream(["ES"]), lambda r: False, start_market(paused_gateway)))


def test_dropped_connection_raises_provider_error(paused_gateway):
    provider = create(live_config(paused_gateway), ConnectorMetrics(), DEFAULT_KEY)
    with pytest.raises(ProviderError, match="closed by the gateway|connection lost"):
        asyncio.run(collect(provider.stream(["ES"]), lambda r: False, paused_gateway.drop_connections))


def test_backfill_replays_the_trades_since_a_time_and_stops_when_caught_up(past_gateway, es_trades):
    provider = create(live_config(past_gateway), ConnectorMetrics(), DEFAULT_KEY)
    since = es_trades[1500].ts_ns

    async def run() -> list[Record]:
        out: list[Record] = []
        async for batch in provider.backfill("ES", since):
            out.extend(batch)
        return out

    records = asyncio.run(asyncio.wait_for(run(), 10))
    expected = [t for t in es_trades if t.ts_ns >= since]
    assert all(isinstance(r, RawTrade) for r in records)
    assert [(r.ts_event, r.price, r.size, r.seq) for r in records] == [
        (t.ts_ns, decimal_text(t.price), t.size, (t.index + 1) * 1000) for t in expected]


def test_replayed_trades_and_file_trades_have_the_same_identity(past_gateway, es_trades, es_file):
    provider = create(live_config(past_gateway), ConnectorMetrics(), DEFAULT_KEY)

    async def run() -> list[Record]:
        return [r async for batch in provider.backfill("ES", es_trades[0].ts_ns) for r in batch]

    replayed = asyncio.run(asyncio.wait_for(run(), 10))
    from_file = of(RawTrade, [r for b in read_dbn_file(es_file) for r in b])
    assert [(t.trade_id, t.seq, t.ts_event, t.ts_recv, t.price, t.size) for t in replayed] == [
        (t.trade_id, t.seq, t.ts_event, t.ts_recv, t.price, t.size) for t in from_file]


# --- files -------------------------------------------------------------------------------------------

def files_config(*paths: Path, **options) -> ProviderConfig:
    return ProviderConfig("databento", {"files": [str(p) for p in paths], **options})


def read_all(provider, symbols=("ES",)) -> list[Record]:
    async def run() -> list[Record]:
        out: list[Record] = []
        with pytest.raises(StreamEnded):
            async for batch in provider.stream(list(symbols)):
                out.extend(batch)
        return out
    return asyncio.run(asyncio.wait_for(run(), 10))


@pytest.mark.parametrize("name", ["es.dbn", "es.dbn.zst"])
def test_file_mode_round_trips_write_dbn_file(tmp_path, es_trades, name):
    path = tmp_path / name
    assert gateway_module.write_dbn_file(es_trades, path) == N_TRADES
    assert read_dbn_trades(path) == [Trade(t.index, t.ts_ns, decimal_text(t.price), t.size) for t in es_trades]
    provider = create(files_config(path), ConnectorMetrics(), None)
    assert isinstance(provider, DatabentoFiles) and not provider.can_backfill
    records = read_all(provider)
    assert [(r.ts_event, r.price, r.size, r.seq, r.symbol, r.venue) for r in records] == [
        (t.ts_ns, decimal_text(t.price), t.size, (t.index + 1) * 1000, "ES", "XCME") for t in es_trades]


def test_file_mode_reads_files_in_order_and_keeps_only_the_wanted_symbols(tmp_path, es_trades):
    a, b = tmp_path / "a.dbn", tmp_path / "b.dbn"
    gateway_module.write_dbn_file(es_trades[:10], a)
    gateway_module.write_dbn_file(es_trades[10:30], b, symbol="NQ")
    both = read_all(create(files_config(a, b), ConnectorMetrics(), None), ["ES", "NQ"])
    assert [r.symbol for r in both] == ["ES"] * 10 + ["NQ"] * 20
    assert [r.symbol for r in read_all(create(files_config(a, b), ConnectorMetrics(), None), ["NQ"])] == ["NQ"] * 20


def test_truncated_file_ends_with_one_malformed(tmp_path, es_trades):
    path = tmp_path / "cut.dbn"
    gateway_module.write_dbn_file(es_trades[:5], path)
    path.write_bytes(path.read_bytes()[:-20])
    records = read_all(create(files_config(path), ConnectorMetrics(), None))
    assert len(of(RawTrade, records)) == 4
    assert isinstance(records[-1], Malformed) and "truncated" in records[-1].detail
    assert len(records[-1].original) == 28


def test_create_needs_a_gateway_or_files():
    with pytest.raises(ValueError, match="gateway"):
        create(ProviderConfig("databento", {}), ConnectorMetrics(), None)
    with pytest.raises(ValueError, match="host:port"):
        create(ProviderConfig("databento", {"gateway": "nohost"}), ConnectorMetrics(), None)
    with pytest.raises(ValueError, match="unsupported schemas"):
        create(ProviderConfig("databento", {"gateway": "h:1", "schemas": ["mbo"]}), ConnectorMetrics(), None)
    assert instrument_id_for("ES") == instrument_id_for("ES") != instrument_id_for("NQ")
