"""The indicators job's reading of an md.bars record (``jobs.indicator_series.read_bar``) refuses any bad
payload with a reason code, never an exception, within a time bound: 100,000 mutated records (watched
child process) and a Hypothesis property over the record's structure. An accepted bar keeps every
indicator finite (valid JSON on md.indicators)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz import strategies as fz
from tests.unit.fuzz.bounded import time_bound
from tests.unit.fuzz.checks import assert_classified
from tests.unit.fuzz.conftest import hypothesis_settings
from tests.unit.fuzz.targets import TARGETS, bar_seeds, run_indicators_bar, warm


@pytest.mark.parametrize("target", ["indicators_bar"])
def test_mutated_bar_record_is_refused_or_applied_within_the_time_bound(target, campaign):
    assert_classified(campaign.report(target))


BAR = fz.parsed(bar_seeds()[0])


@hypothesis_settings(200)
@given(fz.varied(BAR))
def test_bar_records_of_any_structure_are_refused_with_a_reason_or_applied(doc):
    warm("indicators_bar")
    with time_bound(1.0):
        outcome = run_indicators_bar(fz.emit(doc).encode("utf-8", "surrogatepass"))
    assert outcome == "applied" or outcome.startswith("refused:")


@hypothesis_settings(50)
@given(st.one_of(st.binary(max_size=100), st.none()))
def test_arbitrary_payloads_are_refused(payload):
    from jobs.indicator_series import Refused, read_bar

    with pytest.raises(Refused) as refused:
        read_bar(payload, "ES|1m", lambda symbol: lambda ts: 0)
    assert refused.value.reason in ("MALFORMED", "BAD_TYPE")


def test_the_seed_bars_are_applied():
    assert [TARGETS["indicators_bar"].run(seed) for seed in bar_seeds()] == ["applied"] * 3
