"""The storage writer's SQL: the lake tables follow schemas/lake.yaml, options come out as documented."""
import re

from jobs import validation
from jobs.storage_writer import (
    StorageOptions,
    inserts,
    lake_root,
    load_lake_contract,
    statements,
)
from tickflow.runtime import config


def _ddl(stmts: list[str], table: str) -> str:
    [ddl] = [s for s in stmts if s.startswith(f"CREATE TEMPORARY TABLE {table} ")]
    return ddl


def test_lake_tables_have_the_contracts_columns_and_partitions():
    s = config.Settings()
    stmts = statements(s, StorageOptions(lake="/tmp/lake"), validation.load_rules())
    for name, spec in load_lake_contract()["datasets"].items():
        ddl = _ddl(stmts, f"lake_{name}")
        columns = dict(re.findall(r"`(\w+)` ([A-Z]+(?:\(\d+, \d+\)|<STRING>)?)", ddl.split(") PARTITIONED")[0]))
        assert columns == {**spec["columns"], **{p: "STRING" for p in spec["partitions"]}}
        partitions = ddl.split("PARTITIONED BY (")[1].split(")")[0]
        assert partitions == ", ".join(f"`{p}`" for p in spec["partitions"])
        assert f"'path' = 'file:///tmp/lake/dataset={name}'" in ddl


def test_lake_root_defaults_to_the_stacks_s3_bucket_and_keeps_given_uris():
    s = config.Settings()
    assert lake_root(s, None) == f"s3://{s.s3_bucket}/lake"
    assert lake_root(s, "s3://tickflow/lake/") == "s3://tickflow/lake"
    assert lake_root(s, "/tmp/lake") == "file:///tmp/lake"


def test_no_lake_and_no_db_leave_out_their_tables_and_inserts():
    s = config.Settings()
    rules = validation.load_rules()
    only_db = statements(s, StorageOptions(lake=""), rules)
    assert not any("lake_" in x for x in only_db)
    assert not any("lake_" in x for x in inserts(StorageOptions(lake="")))
    only_lake = statements(s, StorageOptions(db=False), rules)
    assert not any("'connector' = 'jdbc'" in x for x in only_lake)
    assert all("INTO db_" not in x for x in inserts(StorageOptions(db=False)))


def test_jdbc_sinks_upsert_on_the_tables_natural_keys():
    stmts = statements(config.Settings(), StorageOptions(lake=""), validation.load_rules())
    assert "PRIMARY KEY (symbol, timeframe, bucket_start) NOT ENFORCED" in _ddl(stmts, "db_bars")
    assert "PRIMARY KEY (symbol, timeframe, bucket_start) NOT ENFORCED" in _ddl(stmts, "db_indicators")
    assert "PRIMARY KEY (symbol, source, seq, `time`) NOT ENFORCED" in _ddl(stmts, "db_trades")
    assert "stringtype=unspecified" in _ddl(stmts, "db_bars")
