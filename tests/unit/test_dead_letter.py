"""The dead-letter record: whole originals up to the limit, a prefix past it, always size and hash; every
connector's and job's dead letter fits the md.dlq contract."""
from __future__ import annotations

import base64
import json

import jsonschema

from connectors.raw_contract import dlq_json
from tickflow.runtime import dead_letter
from tickflow.topics import SCHEMAS_DIR


def test_a_small_original_travels_whole_as_text_with_its_size_and_hash():
    fields = dead_letter.original_fields(b'{"v":1}')
    assert fields == {"original": '{"v":1}', "original_encoding": "text", "original_size": 7,
                      "original_sha256": "afbf9d0f3560b0fd7795e81c42a0a79ee6b6fc67e064f77826aee642cad28d91",
                      "original_truncated": False}


def test_bytes_that_are_not_utf8_travel_as_base64():
    fields = dead_letter.original_fields(b"\xff\xfe{")
    assert fields["original_encoding"] == "base64" and base64.b64decode(fields["original"]) == b"\xff\xfe{"


def test_an_original_past_the_limit_keeps_its_first_bytes_and_describes_the_whole():
    big = b"x" * (dead_letter.MAX_WHOLE_ORIGINAL_BYTES + 1)
    fields = dead_letter.original_fields(big)
    assert fields["original_truncated"] and fields["original"] == "x" * dead_letter.TRUNCATED_PREFIX_BYTES
    assert fields["original_size"] == len(big)
    assert not dead_letter.original_fields(big[:-1])["original_truncated"]


def test_a_dead_letter_of_the_largest_raw_record_stays_far_below_a_producers_request_size():
    largest = b"\xff" * dead_letter.RAW_RECORD_MAX_BYTES
    record = json.dumps(dead_letter.record("MALFORMED", "x" * 10_000, "md.raw.trades", largest, "t")).encode()
    assert len(record) < 16 * 1024
    whole = b"\xff" * dead_letter.MAX_WHOLE_ORIGINAL_BYTES
    record = json.dumps(dead_letter.record("MALFORMED", "", "md.raw.trades", whole, "t")).encode()
    assert len(record) < 1024 * 1024 * 0.5


def test_connector_and_job_dead_letters_fit_the_contract():
    schema = json.loads((SCHEMAS_DIR / "dlq.schema.json").read_text())
    jsonschema.validate(json.loads(dlq_json("MALFORMED", "bad", "polygon", b"\x00\xff", "connector:polygon")), schema)
    jsonschema.validate(dead_letter.record("LATE", "late", "md.raw.trades", b"{}", "market_data_processor", 0, 7),
                        schema)


def test_raw_topics_take_records_up_to_the_size_a_dead_letter_is_built_for():
    from tickflow.topics import load_registry

    specs = load_registry()
    for name in ("md.raw.trades", "md.raw.quotes", "md.raw.bars"):
        assert int(specs[name].config["max.message.bytes"]) == dead_letter.RAW_RECORD_MAX_BYTES + 12, name
