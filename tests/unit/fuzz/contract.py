"""What a parser's output must be: canonical records that obey the raw contracts, or ``Malformed`` ones
that md.dlq can carry. Raises ``ContractBroken`` with the reason otherwise."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.provider import Malformed
from connectors.raw_contract import RawBar, RawQuote, RawTrade, dlq_json

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
INT64_MAX = 2**63 - 1


class ContractBroken(AssertionError):
    """A parser produced something the raw contracts or md.dlq cannot carry."""


def compile_schema(schema: dict) -> Callable[[Any], str | None]:
    """A fast check of a document against one of the raw contracts' schemas (which use a small part of
    JSON Schema: types, const, enum, pattern, lengths, minimum, items' type, required, no extra fields):
    the reason it fails, or None. The fuzzers check hundreds of thousands of records, too many for
    jsonschema's general validator; a keyword outside that part raises, so a schema that grows cannot be
    checked partially without anyone noticing (``test_fuzz_contract.py`` holds both checks equal)."""
    known = {"$schema", "$id", "title", "description", "type", "required", "properties", "additionalProperties",
             "examples"}
    unknown = set(schema) - known
    if unknown or schema.get("type") != "object" or schema.get("additionalProperties") is not False:
        raise NotImplementedError(f"schema keywords not supported by the fast check: {sorted(unknown)}")
    required = schema.get("required", [])
    fields = {name: _field_check(name, spec) for name, spec in schema["properties"].items()}

    def check(doc: Any) -> str | None:
        if not isinstance(doc, dict):
            return "not an object"
        for name in required:
            if name not in doc:
                return f"{name} is required"
        for name, value in doc.items():
            field = fields.get(name)
            if field is None:
                return f"unexpected field {name}"
            why = field(value)
            if why:
                return why
        return None

    return check


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str), "null": lambda v: v is None,
    "integer": lambda v: type(v) is int, "array": lambda v: isinstance(v, list),
}


def _field_check(name: str, spec: dict) -> Callable[[Any], str | None]:
    unknown = set(spec) - {"type", "const", "enum", "pattern", "minLength", "maxLength", "minimum", "items",
                           "description"}
    if unknown:
        raise NotImplementedError(f"{name}: schema keywords not supported by the fast check: {sorted(unknown)}")
    types = spec.get("type")
    types = [types] if isinstance(types, str) else types
    pattern = re.compile(spec["pattern"]) if "pattern" in spec else None
    item_type = _TYPES[spec["items"]["type"]] if "items" in spec else None

    def check(v: Any) -> str | None:
        if "const" in spec and not (v == spec["const"] and type(v) is type(spec["const"])):
            return f"{name} is not {spec['const']!r}"
        if "enum" in spec and v not in spec["enum"]:
            return f"{name} {v!r:.40} is not one of {spec['enum']}"
        if types is not None and not any(_TYPES[t](v) for t in types):
            return f"{name} {v!r:.40} is not of type {types}"
        if isinstance(v, str):
            if pattern is not None and not pattern.search(v):
                return f"{name} {v!r:.40} does not match {spec['pattern']}"
            if not spec.get("minLength", 0) <= len(v) <= spec.get("maxLength", len(v)):
                return f"{name} {v!r:.40} has a length out of bounds"
        if type(v) is int and v < spec.get("minimum", v):
            return f"{name} {v} is below {spec['minimum']}"
        if item_type is not None and isinstance(v, list) and not all(item_type(i) for i in v):
            return f"{name} has an item of the wrong type"
        return None

    return check


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


_CHECKS = {RawTrade: compile_schema(schema("raw_trade.schema.json")),
           RawQuote: compile_schema(schema("raw_quote.schema.json")),
           RawBar: compile_schema(schema("raw_bar.schema.json"))}
_CHECKED: set[bytes] = set()  # encodings already found valid (most records of a run repeat the seeds')


def _strings_and_ints(value: object) -> None:
    """Every string is Unicode text (no lone surrogates), every integer fits a BIGINT."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ContractBroken(f"string {value[:40]!r} is not Unicode text") from None
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise ContractBroken(f"integer {value} does not fit a BIGINT")
    elif isinstance(value, dict):
        for v in value.values():
            _strings_and_ints(v)
    elif isinstance(value, list):
        for v in value:
            _strings_and_ints(v)


def check_record(record: object, dlq: bool = True) -> str:
    """'record' or 'malformed' for a valid output; ContractBroken for anything else."""
    if isinstance(record, Malformed):
        check_malformed(record, dlq)
        return "malformed"
    check = _CHECKS.get(type(record))
    if check is None:
        raise ContractBroken(f"unexpected output {type(record).__name__}: {record!r:.200}")
    encoded = record.to_json()  # type: ignore[attr-defined]
    if encoded in _CHECKED:
        return "record"
    doc = json.loads(encoded)
    why = check(doc)
    if why:
        raise ContractBroken(f"{type(record).__name__} breaks its schema: {why}")
    _strings_and_ints(doc)
    record.symbol.encode("utf-8")  # type: ignore[attr-defined]  # the Kafka key
    if len(_CHECKED) > 200_000:
        _CHECKED.clear()
    _CHECKED.add(encoded)
    return "record"


def check_malformed(m: Malformed, dlq: bool = True) -> None:
    if not isinstance(m.original, bytes) or not isinstance(m.detail, str) or not m.detail:
        raise ContractBroken(f"Malformed without detail or original bytes: {m!r:.200}")
    if not isinstance(m.symbol, str) or len(m.symbol) > 32:
        raise ContractBroken(f"Malformed.symbol {m.symbol!r:.60} is not a symbol")
    try:
        m.symbol.encode("utf-8")  # the md.dlq key
    except UnicodeEncodeError:
        raise ContractBroken(f"Malformed.symbol {m.symbol!r:.60} is not Unicode text") from None
    if dlq and len(m.original) <= 4096:
        dlq_json("MALFORMED", m.detail, "fuzz", m.original, "fuzz")


def outcome_of(records: list[object]) -> str:
    """'records', 'malformed', 'malformed+records' or 'empty' for a list of outputs (each one checked;
    md.dlq's encoding is tried on the first, small, malformed one: it is the same code for all)."""
    kinds = {check_record(r, dlq=i == 0) for i, r in enumerate(records)}
    return "+".join(sorted(k + ("s" if k == "record" else "") for k in kinds)) or "empty"
