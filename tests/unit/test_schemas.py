"""The contracts in schemas/: every example validates, every registered schema exists."""
import json
from pathlib import Path

import jsonschema
import pytest

from tickflow.topics import SCHEMAS_DIR, load_registry

SCHEMA_FILES = sorted(SCHEMAS_DIR.glob("*.schema.json"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_examples_validate(path: Path):
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("examples"), f"{path.name} has no examples"
    for example in schema["examples"]:
        jsonschema.validate(example, schema)


def test_registry_names_existing_schemas_and_sane_settings():
    specs = load_registry()
    assert {"md.raw.trades", "md.raw.quotes", "md.bars", "md.dlq"} <= set(specs)
    for spec in specs.values():
        assert spec.partitions >= 1
        assert spec.config.get("cleanup.policy") in ("delete", "compact")
        if spec.schema:
            assert spec.schema_path().exists(), f"{spec.name}: {spec.schema} missing"


def test_raw_trade_schema_rejects_float_prices_and_oversized_decimals():
    schema = json.loads((SCHEMAS_DIR / "raw_trade.schema.json").read_text())
    good = schema["examples"][0]
    for bad_price in (1640.25, "1e3", "1234567890.0", "1.0000000001"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "price": bad_price}, schema)
