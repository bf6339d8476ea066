"""The provider parsers (Polygon, Finnhub, Databento, Alpha Vantage) classify any input within a time bound:
100,000 mutations of real frames per parser (watched child process, 1 s of CPU per input), and Hypothesis
properties that build inputs by structure."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz import strategies as fz
from tests.unit.fuzz.bounded import time_bound
from tests.unit.fuzz.checks import assert_classified
from tests.unit.fuzz.conftest import hypothesis_settings
from tests.unit.fuzz.targets import (
    IID,
    T0,
    TARGETS,
    alphavantage_seeds,
    finnhub_frame_seeds,
    finnhub_ticks_seeds,
    polygon_frame_seeds,
    polygon_rest_seeds,
    warm,
)
from tickflow_testkit.dbn_writer import metadata_bytes

PROVIDERS = ["polygon_frame", "polygon_rest", "finnhub_frame", "finnhub_ticks", "databento_live",
             "databento_control", "alphavantage"]


@pytest.mark.parametrize("target", PROVIDERS)
def test_mutated_provider_input_is_classified_within_the_time_bound(target, campaign):
    assert_classified(campaign.report(target))


def classified(target: str, data: bytes) -> str:
    warm(target)
    with time_bound(1.0):
        return TARGETS[target].run(data)


# --- Polygon ---------------------------------------------------------------------------------------------

POLYGON_EVENTS = [ev for seed in polygon_frame_seeds() for ev in fz.parsed(seed)]
POLYGON_PAGE = fz.parsed(polygon_rest_seeds()[0])


@hypothesis_settings(200)
@given(st.lists(st.sampled_from(POLYGON_EVENTS).flatmap(fz.varied), min_size=1, max_size=4))
def test_polygon_frames_of_any_structure_are_classified(events):
    classified("polygon_frame", fz.emit(events).encode("utf-8", "surrogatepass"))


PAGE_FIELDS = {k: v for k, v in POLYGON_PAGE.items() if k not in ("results", "next_url")}


@hypothesis_settings(150)
@given(fz.varied(PAGE_FIELDS), st.lists(st.sampled_from(POLYGON_PAGE["results"]).flatmap(fz.varied), max_size=4),
       st.one_of(st.none(), st.sampled_from(["http://127.0.0.1:8765/v3/trades/ES?cursor=1-1",
                                             "https://elsewhere.example/v3/trades/ES", "", "/v3/trades/ES"]),
                 fz.json_values))
def test_polygon_rest_pages_of_any_structure_are_classified(page, rows, next_url):
    doc = {**page, "results": rows, "next_url": next_url}
    classified("polygon_rest", fz.emit(doc).encode("utf-8", "surrogatepass"))


# --- Finnhub ---------------------------------------------------------------------------------------------

FINNHUB_ITEMS = [item for seed in finnhub_frame_seeds() for item in fz.parsed(seed).get("data", [])]


@hypothesis_settings(200)
@given(st.one_of(st.sampled_from(["trade", "ping", "error"]), fz.json_values),
       st.one_of(st.lists(st.sampled_from(FINNHUB_ITEMS).flatmap(fz.varied), max_size=4), fz.json_values))
def test_finnhub_frames_of_any_structure_are_classified(kind, data):
    classified("finnhub_frame", fz.emit({"type": kind, "data": data}).encode("utf-8", "surrogatepass"))


@hypothesis_settings(150)
@given(st.integers(0, 4).flatmap(lambda n: st.fixed_dictionaries(
    {name: st.lists(fz.json_values, min_size=n, max_size=n) for name in "tpvc"},
    optional={"total": fz.json_values, "x": fz.json_values})),
    st.sampled_from(["", "t", "p", "v", "c"]))
def test_finnhub_tick_pages_of_any_structure_are_classified(doc, shorten):
    if shorten and doc[shorten]:
        doc[shorten] = doc[shorten][:-1]  # parallel arrays of different lengths
    classified("finnhub_ticks", fz.emit(doc).encode("utf-8", "surrogatepass"))


def test_finnhub_tick_seeds_are_trades():
    assert [classified("finnhub_ticks", s) for s in finnhub_ticks_seeds()] == ["records", "records", "empty",
                                                                               "records"]


# --- Databento -------------------------------------------------------------------------------------------

LIVE_HEAD = metadata_bytes("GLBX.MDP3", ["ES"], T0)


@hypothesis_settings(200)
@given(fz.dbn_stream(LIVE_HEAD + fz._mapping(IID, "ES")))
def test_databento_gateway_streams_of_any_records_are_classified(data):
    classified("databento_live", data)


@hypothesis_settings(100)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_databento_control_lines_of_any_bytes_are_fields(line):
    assert classified("databento_control", line) in ("fields", "empty")


# --- Alpha Vantage ---------------------------------------------------------------------------------------

AV_ANSWER = fz.parsed(alphavantage_seeds()[0])
AV_BAR = next(iter(AV_ANSWER["Time Series (1min)"].values()))


@hypothesis_settings(200)
@given(fz.varied(AV_ANSWER["Meta Data"]),
       st.dictionaries(st.one_of(fz.stamps, fz.texts), st.one_of(fz.varied(AV_BAR), fz.json_values), max_size=4),
       st.sampled_from(["Time Series (1min)", "Time Series (5min)", "Note", "Error Message", "Information"]))
def test_alphavantage_answers_of_any_structure_are_classified(meta, series, key):
    body = {"Meta Data": meta, key: series}
    classified("alphavantage", fz.emit(body).encode("utf-8", "surrogatepass"))


@hypothesis_settings(50)
@given(st.sampled_from(alphavantage_seeds()), st.integers(0, 10**6))
def test_alphavantage_answers_cut_anywhere_are_bad_bodies(body, cut):
    assert classified("alphavantage", body[:cut % (len(body) - 1)]) == "bad"
