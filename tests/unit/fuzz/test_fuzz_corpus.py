"""The regression corpus: every input a fuzzer found (a hang, a crash, an exception or a record breaking the
contract, against the code of its day) is replayed through its parser in a watched child process and
must come out as its line of ``tests/corpus/provider_frames.jsonl`` says, within 1 s of CPU."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.unit.fuzz.bounded import replay
from tests.unit.fuzz.targets import TARGETS

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "provider_frames.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def payload(case: dict) -> bytes:
    return case["payload"].encode("utf-8") if "payload" in case else base64.b64decode(case["payload_b64"])


def test_every_line_names_a_parser_a_finding_and_an_outcome():
    assert CASES
    for case in CASES:
        assert case["parser"] in TARGETS and case["found"] in ("hang", "crash", "exception", "contract")
        assert case["note"] and case["expect"] and ("payload" in case) != ("payload_b64" in case)


@pytest.fixture(scope="module")
def outcomes() -> dict[int, str]:
    """Each case's outcome now, all run by one watched child (a hang or crash is named as such)."""
    report = replay("_corpus", [case["parser"].encode() + b"\0" + payload(case) for case in CASES])
    return report.each


@pytest.mark.parametrize("n", range(len(CASES)), ids=[f"{c['parser']}-{c['found']}-{i}" for i, c in enumerate(CASES)])
def test_a_found_input_is_classified_as_recorded(n, outcomes):
    case = CASES[n]
    assert outcomes.get(n, "not run") == case["expect"], case["note"]
