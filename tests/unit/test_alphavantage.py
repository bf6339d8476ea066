"""Alpha Vantage: the recorded intraday response parsed exactly (US/Eastern → UTC with DST), and the provider
polling the simulator: every bar once, revisions again, rate-limit bodies waited out, HTTP errors retried,
a bad key refused."""
import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from connectors import alphavantage
from connectors.alphavantage import (
    AlphaVantageProvider,
    ShapeError,
    create,
    local_to_utc_ns,
    parse_intraday,
    zone_of,
)
from connectors.es_sample import read_es_trades
from connectors.metrics import ConnectorMetrics
from connectors.provider import AuthError, Malformed, ProviderError, StreamEnded
from connectors.provider_config import ProviderConfig
from connectors.raw_contract import RawBar
from connectors.symbols import SymbolMap
from tickflow_testkit.simulators.alphavantage import AlphaVantageServer, bars_from_trades, eastern_stamp
from tickflow_testkit.simulators.market import Market

ROOT = Path(__file__).resolve().parents[2]
BAR_SCHEMA = json.loads((ROOT / "schemas" / "raw_bar.schema.json").read_text())
NS = 1_000_000_000
KEY = "test-key"


@pytest.fixture(scope="module")
def recorded():
    """The recorded response (`make setup` fetches it; a failure to fetch fails the tests, never skips them)."""
    from tickflow_testkit.simulators.alphavantage_data import intraday_sample

    return intraday_sample()


@pytest.fixture(scope="module")
def es_trades():
    from connectors.es_sample import es_sample_csv
    from tickflow.runtime.config import PROJECT_ROOT

    return read_es_trades(es_sample_csv(PROJECT_ROOT / ".tickflow" / "cache"), limit=3000)


def series(*bars):
    """A TIME_SERIES_INTRADAY body with the given (stamp, o, h, l, c, v) bars."""
    return {"Meta Data": {"1. Information": "Intraday (1min) open, high, low, close prices and volume",
                          "2. Symbol": "IBM", "3. Last Refreshed": bars[0][0] if bars else "",
                          "4. Interval": "1min", "5. Output Size": "Compact", "6. Time Zone": "US/Eastern"},
            "Time Series (1min)": {b[0]: dict(zip(("1. open", "2. high", "3. low", "4. close", "5. volume"), b[1:]))
                                   for b in bars}}


# --- parsing ------------------------------------------------------------------------------------------

def test_recorded_bar_has_exact_strings_and_its_eastern_daylight_time_in_utc(recorded):
    doc = json.loads(json.dumps(recorded), parse_float=Decimal)
    bars, bad = parse_intraday(doc, "MSFT", ts_recv=7)
    assert bad == []
    assert len(bars) == len(recorded["Time Series (1min)"]) == 1
    bar = bars[0]
    # "2017-08-11 16:00:00" US/Eastern in August is EDT = UTC-4 → 20:00:00 UTC
    assert bar.ts_start == 1502481600 * NS
    assert datetime.fromtimestamp(bar.ts_start / NS, UTC) == datetime(2017, 8, 11, 20, 0, tzinfo=UTC)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == ("72.495", "72.53", "72.45", "72.5", "2262503")
    assert (bar.source, bar.symbol, bar.timeframe, bar.vwap, bar.trade_count, bar.ts_recv) == \
        ("alphavantage", "MSFT", "1m", None, None, 7)
    jsonschema.validate(json.loads(bar.to_json()), BAR_SCHEMA)


def test_bar_stamp_end_reads_the_stamp_as_the_bars_end(recorded):
    bars, _ = parse_intraday(recorded, "MSFT", ts_recv=0, bar_stamp="end")
    assert bars[0].ts_start == (1502481600 - 60) * NS


def test_standard_and_daylight_time_and_both_clock_changes():
    east = zone_of("US/Eastern")
    assert (local_to_utc_ns("2024-01-05 09:30:00", east)
            == int(datetime(2024, 1, 5, 14, 30, tzinfo=UTC).timestamp()) * NS)
    assert (local_to_utc_ns("2024-07-05 09:30:00", east)
            == int(datetime(2024, 7, 5, 13, 30, tzinfo=UTC).timestamp()) * NS)
    # 2024-03-10 02:00 EST jumps to 03:00 EDT: one minute before and after are 60 s apart in UTC
    assert local_to_utc_ns("2024-03-10 03:00:00", east) - local_to_utc_ns("2024-03-10 01:59:00", east) == 60 * NS
    # 2024-11-03 01:00-02:00 happens twice: read as the first (EDT) pass
    assert (local_to_utc_ns("2024-11-03 01:30:00", east)
            == int(datetime(2024, 11, 3, 5, 30, tzinfo=UTC).timestamp()) * NS)
    bars, bad = parse_intraday(series(("2024-03-10 02:30:00", "1", "1", "1", "1", "1"),
                                      ("2024-03-11 09:30:00", "1", "1", "1", "1", "1")), "IBM", 0)
    assert [b.ts_start for b in bars] == [int(datetime(2024, 3, 11, 13, 30, tzinfo=UTC).timestamp()) * NS]
    assert len(bad) == 1 and "does not exist" in bad[0].detail


def test_bad_bars_are_malformed_with_their_own_json_and_good_ones_survive():
    doc = series(("2024-07-05 09:33:00", "190.1", "190.0", "190.5", "190.2", "10"),    # high < low
                 ("2024-07-05 09:32:00", "190.1", "n/a", "190.0", "190.2", "10"),      # not numeric
                 ("2024-07-05 09:31:00", "190.1000", "190.2500", "189.9000", "190.0000", "1200"),
                 ("2024-07-05 09:30:00", "190.1", "190.2", "190.0", "190.2", "-5"))     # negative volume
    bars, bad = parse_intraday(doc, "IBM", 0)
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == [("190.1", "190.25", "189.9", "190", "1200")]
    assert len(bad) == 3
    by_stamp = {next(iter(json.loads(m.original))): m for m in bad}
    assert json.loads(by_stamp["2024-07-05 09:33:00"].original) == {
        "2024-07-05 09:33:00": doc["Time Series (1min)"]["2024-07-05 09:33:00"]}
    assert "high 190 is below low 190.5" in by_stamp["2024-07-05 09:33:00"].detail
    assert all(m.symbol == "IBM" for m in bad)


@pytest.mark.parametrize("doc", [[], {"foo": 1}, {"Meta Data": {}, "Time Series (1min)": "x"}])
def test_a_body_of_another_shape_is_a_shape_error(doc):
    with pytest.raises(ShapeError):
        parse_intraday(doc, "IBM", 0)


def test_simulator_bars_from_es_trades_are_per_minute_in_eastern_time(es_trades):
    bars = bars_from_trades(es_trades)
    assert sum(int(b.fields["5. volume"]) for b in bars) == sum(int(t.size) for t in es_trades)
    # the ES sample starts 2013-09-01 17:00 US/Central = 18:00 US/Eastern (both on daylight time)
    assert eastern_stamp(bars[0].start_ns) == "2013-09-01 18:00:00"
    assert bars[0].fields["1. open"] == f"{Decimal(es_trades[0].price):.4f}"


# --- the provider against the simulator ---------------------------------------------------------------

def provider(sim, secret=KEY, symbols=None, **options):
    opts = {"base_url": sim.url, "poll_seconds": 0.05, "rate_limit_wait_s": 0.01, "retry_base_s": 0.01,
            "retry_cap_s": 0.05, "until_complete": True, **options}
    cfg = ProviderConfig("alphavantage", opts, SymbolMap("alphavantage", symbols or {}))
    p = create(cfg, ConnectorMetrics(), secret)
    assert isinstance(p, AlphaVantageProvider) and p.name == "alphavantage"
    return p


def run(p, symbols, stop=None, until=None, timeout=10.0):
    """(records, the exception that ended the stream, or None when ``stop(records)`` or ``until()`` said
    enough). ``until`` is checked every 10 ms, for conditions that show on the simulator, not in the stream."""
    async def consume(got):
        agen = p.stream(symbols)
        try:
            async for batch in agen:
                got.extend(batch)
                if stop is not None and stop(got):
                    return None
        except (StreamEnded, ProviderError) as exc:
            return exc
        finally:
            await agen.aclose()

    async def go():
        got = []
        task = asyncio.ensure_future(consume(got))
        try:
            async with asyncio.timeout(timeout):
                while not task.done():
                    if until is not None and until():
                        task.cancel()
                    await asyncio.wait({task}, timeout=0.01)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            await p.close()
        return got, None if task.cancelled() else task.result()
    return asyncio.run(go())


def bars_of(records):
    return [r for r in records if isinstance(r, RawBar)]


def test_every_recorded_bar_reaches_the_stream_once_under_the_tickflow_symbol(recorded):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        got, ended = run(provider(sim, symbols={"MICROSOFT": "MSFT"}), ["MICROSOFT"])
        assert sim.served >= 3  # the first poll, then two that found nothing new
    assert isinstance(ended, StreamEnded)
    bars = bars_of(got)
    assert [(b.symbol, b.ts_start, b.close) for b in bars] == [("MICROSOFT", 1502481600 * NS, "72.5")]
    assert not [r for r in got if isinstance(r, Malformed)]


def test_es_bars_appear_as_their_minutes_complete_and_each_arrives_once(recorded, es_trades):
    market = Market(es_trades, rate=10000)
    with AlphaVantageServer(market, recorded=[recorded]) as sim:
        batches = []

        def stop(got):
            batches.append(len(bars_of(got)))
            return False
        got, ended = run(provider(sim, stable_polls=8), ["MSFT", "ES"], stop=stop)
        expected = [(bar.start_ns, bar.fields["4. close"]) for bar in sim.market_bars]
    assert isinstance(ended, StreamEnded)
    es = [b for b in bars_of(got) if b.symbol == "ES"]
    assert [(b.ts_start, Decimal(b.close)) for b in es] == [(t, Decimal(c)) for t, c in expected]
    assert len({b.ts_start for b in es}) == len(es) == len(expected) > 10
    assert len(batches) > 3  # the bars came over several polls, not in one answer
    for b in es:
        jsonschema.validate(json.loads(b.to_json()), BAR_SCHEMA)


@pytest.mark.parametrize("style", ["information", "note"])
def test_a_rate_limit_body_is_waited_out_and_counted(recorded, style):
    with AlphaVantageServer(recorded=[recorded], limit_style=style) as sim:
        sim.rate_limit_next = 3
        p = provider(sim)
        got, ended = run(p, ["MSFT"])
        assert sim.rate_limited == 3
    assert isinstance(ended, StreamEnded)
    assert len(bars_of(got)) == 1
    assert p.metrics.value("tickflow_connector_rate_limit_waits_total", provider="alphavantage") == 3


def test_the_simulators_quota_answers_with_the_information_body(recorded):
    with AlphaVantageServer(recorded=[recorded], per_minute=1) as sim:
        p = provider(sim, until_complete=False, rate_limit_wait_s=0.01, rate_limit_max_wait_s=0.01)
        got, ended = run(p, ["MSFT"], until=lambda: sim.rate_limited >= 3, timeout=5)
    assert ended is None  # still waiting, nothing raised
    assert len(bars_of(got)) == 1
    assert p.metrics.value("tickflow_connector_rate_limit_waits_total", provider="alphavantage") >= 1


def test_http_429_and_500_are_retried(recorded):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        sim.faults.http_429, sim.faults.http_500 = 2, 2
        p = provider(sim)
        got, ended = run(p, ["MSFT"])
    assert isinstance(ended, StreamEnded)
    assert len(bars_of(got)) == 1
    assert p.metrics.value("tickflow_connector_retries_total", provider="alphavantage") == 4


@pytest.mark.parametrize("secret,refuse", [("wrong-key", False), (KEY, True)])
def test_a_refused_key_is_an_auth_error(recorded, secret, refuse):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        sim.faults.refuse_auth = refuse
        got, ended = run(provider(sim, secret=secret), ["MSFT"])
    assert isinstance(ended, AuthError) and "apikey is invalid or missing" in str(ended)
    assert got == []


def test_no_key_at_all_is_an_auth_error_before_any_request(recorded):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        got, ended = run(provider(sim, secret=None), ["MSFT"])
        assert sim.requests == 0
    assert isinstance(ended, AuthError)


def test_an_unknown_symbol_is_malformed_once_and_dropped(recorded):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        got, ended = run(provider(sim), ["MSFT", "NOPE"])
        _, only_unknown = run(provider(sim), ["NOPE"])
    assert isinstance(ended, StreamEnded)
    bad = [r for r in got if isinstance(r, Malformed)]
    assert len(bad) == 1 and bad[0].symbol == "NOPE" and b"Invalid API call" in bad[0].original
    assert len(bars_of(got)) == 1
    assert isinstance(only_unknown, ProviderError) and not isinstance(only_unknown, AuthError)


def test_a_cut_off_body_is_malformed_whole_and_polling_goes_on(recorded):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        sim.faults.garbage_every = 2
        got, ended = run(provider(sim, stable_polls=3), ["MSFT"])
        assert sim.garbage_sent >= 1
    assert isinstance(ended, StreamEnded)
    bad = [r for r in got if isinstance(r, Malformed)]
    assert bad and all("not JSON" in m.detail for m in bad)
    assert len(bars_of(got)) == 1


def test_a_revised_bar_is_yielded_again_and_a_bad_new_bar_goes_to_the_dlq(recorded):
    with AlphaVantageServer(recorded=[recorded]) as sim:
        def stop(got):
            if len(got) == 1:  # after the first answer: revise the bar, add a broken one
                sim.put_bar("MSFT", "2017-08-11 16:00:00", {"1. open": "72.4950", "2. high": "72.6000",
                                                            "3. low": "72.4500", "4. close": "72.6000",
                                                            "5. volume": "2300000"})
                sim.put_bar("MSFT", "2017-08-11 16:01:00", {"1. open": "72.6", "2. high": "72.5",
                                                            "3. low": "72.7", "4. close": "72.6",
                                                            "5. volume": "100"})
            return False
        got, ended = run(provider(sim), ["MSFT"], stop=stop)
    assert isinstance(ended, StreamEnded)
    bars = bars_of(got)
    assert [(b.ts_start, b.close, b.volume) for b in bars] == [(1502481600 * NS, "72.5", "2262503"),
                                                                (1502481600 * NS, "72.6", "2300000")]
    assert bars[1].ts_recv > bars[0].ts_recv
    bad = [r for r in got if isinstance(r, Malformed)]
    # every later answer repeats the broken bar; it goes to md.dlq once
    assert [json.loads(m.original) for m in bad] == [{"2017-08-11 16:01:00": {
        "1. open": "72.6", "2. high": "72.5", "3. low": "72.7", "4. close": "72.6", "5. volume": "100"}}]
    assert "high 72.5 is below low 72.7" in bad[0].detail


def test_the_launcher_builds_it_with_the_market_and_the_recorded_sample(recorded, es_trades):
    from tickflow_testkit.simulators.launch import build
    from tickflow_testkit.simulators.server import free_port

    market = Market(es_trades, rate=1e9)  # everything has happened at once
    with build("alphavantage", market, api_key="k1", port=free_port()) as sim:
        got, ended = run(provider(sim, secret="k1"), ["ES", "MSFT"])
    assert isinstance(ended, StreamEnded)
    assert {b.symbol for b in bars_of(got)} == {"ES", "MSFT"}
    assert len(bars_of(got)) == len(bars_from_trades(es_trades)) + 1


@pytest.mark.parametrize("body,verdict", [
    ({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and "
              "500 calls per day."}, "wait"),
    ({"Information": "We have detected your API key as XYZ and our standard API rate limit is 25 requests per "
                     "day. Please subscribe to any of the premium plans."}, "wait"),
    ({"Information": "Please consider spreading out your free API requests more sparingly (1 request per "
                     "second)."}, "wait"),
    ({"Information": "The **demo** API key is for demo purposes only."}, AuthError),
    ({"Information": "Thank you for using Alpha Vantage! This is a premium endpoint."}, AuthError),
    ({"Error Message": "the parameter apikey is invalid or missing."}, AuthError),
    ({"Error Message": "Invalid API call. Please retry or visit the documentation."}, "unknown"),
    ({"Information": "something new"}, "other"),
])
def test_answers_without_a_series_are_told_apart(body, verdict):
    if verdict is AuthError:
        with pytest.raises(AuthError):
            alphavantage.classify(body)
    else:
        assert alphavantage.classify(body) == verdict
