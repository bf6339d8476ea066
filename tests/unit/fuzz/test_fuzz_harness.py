"""The fuzz harness itself: its time bound catches a hang in C and a segfault and names the input, and its
fast contract check agrees with jsonschema on the raw contracts."""
from __future__ import annotations

import json
import time

import jsonschema
import pytest

from tests.unit.fuzz.bounded import InputTimeout, fuzz, time_bound
from tests.unit.fuzz.contract import compile_schema, schema
from tests.unit.fuzz.targets import input_for


def test_a_call_that_does_not_return_is_killed_and_its_input_named():
    started = time.monotonic()
    report = fuzz("_hang", 200, seed=1, cpu_limit_s=0.5, max_failures=1)
    assert [f.kind for f in report.failures] == ["hang"]
    hung = report.failures[0]
    assert hung.payload == input_for("_hang", 1, hung.index) and hung.payload[0] < 8
    assert time.monotonic() - started < 60


def test_a_segfault_is_a_finding_and_the_run_goes_on_after_it():
    report = fuzz("_crash", 200, seed=1, max_failures=2)
    assert [f.kind for f in report.failures] == ["crash", "crash"]
    assert all(f.payload[0] < 8 for f in report.failures)
    assert report.failures[0].index < report.failures[1].index


def test_the_in_process_bound_interrupts_python_code():
    with pytest.raises(InputTimeout):
        with time_bound(0.2):
            while True:
                pass


@pytest.mark.parametrize("name", ["raw_trade.schema.json", "raw_quote.schema.json", "raw_bar.schema.json"])
def test_the_fast_contract_check_agrees_with_jsonschema(name):
    doc = schema(name)
    fast, full = compile_schema(doc), jsonschema.validators.validator_for(doc)(doc)
    variants = []
    for example in doc["examples"]:
        variants.append(example)
        for key in list(example) + ["extra"]:
            for value in (None, "", "x" * 40, -1, 0, 2**70, 1.5, True, [], ["a"], [1], {}, "1640.25", "-0.5",
                          "1e3", "01", "1.1234567891", "1m", "1w"):
                variants.append({**example, key: value})
            variants.append({k: v for k, v in example.items() if k != key})
    for variant in variants:
        assert (fast(variant) is None) == full.is_valid(variant), json.dumps(variant)
