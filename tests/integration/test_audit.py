"""`tickflow audit` on the real stack: the first trades of the ES sample (Sunday 2013-09-01, the Globex open
at 17:00 Chicago until 19:10) → processor → indicators → storage writer into PostgreSQL and a local lake;
the audit passes on that date for bars, trades and indicators, fails on a corrupted copy of the lake naming
the broken expectations, and reports an empty date as a failure."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.job_cli import cli, run_job
from tests.integration.kafka_tools import reset_topics
from tickflow import migrations

TOPICS = ["md.raw.trades", "md.raw.quotes", "md.bars", "md.dlq", "md.quotes", "md.indicators"]
DATE = "2013-09-01"       # UTC: 22:00-24:00 of it is the Sunday evening open, 120 CME trading minutes
TRADES = 6110             # the sample's trades before 19:10 Chicago (00:10 UTC on the 2nd)




@pytest.fixture(scope="module")
def stored(running_stack, tmp_path_factory):
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    conn = migrations.connect(s.postgres_dsn)
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    assert cli("db", "migrate").returncode == 0
    r = cli("replay", "--limit", str(TRADES), timeout=300)
    assert r.returncode == 0, r.stderr
    run_job("market_data_processor")
    run_job("indicators")
    lake = tmp_path_factory.mktemp("audit-lake")
    run_job("storage_writer", "--lake", str(lake))
    yield {"settings": s, "lake": lake, "docs": tmp_path_factory.mktemp("audit-docs"), "conn": conn}
    conn.close()


def audit(stored, dataset: str, lake: Path | str | None = None, date: str = DATE) -> subprocess.CompletedProcess:
    return cli("audit", "--dataset", dataset, "--date", date, "--lake", str(lake or stored["lake"]),
               "--docs", str(stored["docs"]))


def latest_audit(conn, dataset: str) -> dict[tuple[str, str], tuple]:
    with conn.cursor() as cur:
        cur.execute("""SELECT suite, target, success, row_count, failed, failures, summary FROM quality_audits
                       WHERE run_id = (SELECT run_id FROM quality_audits WHERE dataset = %s
                                       ORDER BY run_at DESC LIMIT 1)""", (dataset,))
        return {(r[0], r[1]): r[2:] for r in cur.fetchall()}


@pytest.mark.parametrize("dataset", ["bars", "trades", "indicators"])
def test_the_audit_passes_on_the_stored_es_data_and_records_every_suite(stored, dataset):
    r = audit(stored, dataset)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "audit passed" in r.stdout
    index = stored["docs"] / "index.html"
    assert f"Data Docs: {index}" in r.stdout and index.is_file()
    rows = latest_audit(stored["conn"], dataset)
    targets = {"lake", "table"}
    suites = {dataset, f"{dataset}.calendar"} if dataset != "indicators" else {dataset}
    assert set(rows) == {(su, t) for su in suites for t in targets} | {(f"{dataset}.lake_vs_table", "lake_vs_table")}
    assert all(success and count > 0 and failed == 0 for success, count, failed, *_ in rows.values())
    if dataset == "bars":
        # 116 of the 120 trading minutes of the Sunday evening open have a 1m bar
        assert "ES 96.7% of 120 trading minutes" in rows[("bars.calendar", "lake")][-1]
        assert rows[("bars", "lake")][1] == rows[("bars", "table")][1] > 116


def corrupt_copy(lake: Path, dest: Path) -> Path:
    """The bars partition copied, with one bar's high set below its low and another bar duplicated."""
    part = dest / "dataset=bars" / f"date={DATE}"
    shutil.copytree(lake / "dataset=bars" / f"date={DATE}", part)
    path = next(p for p in sorted(part.iterdir()) if not p.name.startswith(("_", ".")))
    table = pq.read_table(path)
    rows = table.to_pylist()
    assert len(rows) >= 2
    rows[0]["high"] = rows[0]["low"] - Decimal("1")
    rows.append(dict(rows[1]))
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    return dest


def test_the_audit_fails_on_a_corrupted_copy_naming_the_expectations_and_rows(stored, tmp_path):
    bad = corrupt_copy(stored["lake"], tmp_path / "bad-lake")
    r = audit(stored, "bars", lake=bad)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "FAIL bars @ lake" in out and "PASS bars @ table" in out
    assert ("failed expect_column_pair_values_a_to_be_greater_than_b(column_A=high, column_B=low, or_equal=True): "
            "1 of") in out
    assert ("failed expect_compound_columns_to_be_unique(column_list=['symbol', 'timeframe', 'bucket_start']): "
            "2 of") in out
    assert "sample rows:" in out
    assert "audit failed" in out and "bars @ lake" in out.splitlines()[-1]
    rows = latest_audit(stored["conn"], "bars")
    success, _, failed, failures, _ = rows[("bars", "lake")]
    assert not success and failed >= 2
    described = {f["described"] for f in failures}
    assert "expect_column_pair_values_a_to_be_greater_than_b(column_A=high, column_B=low, or_equal=True)" in described
    pair = next(f for f in failures if f["expectation"] == "expect_column_pair_values_a_to_be_greater_than_b"
                and f["kwargs"] == {"column_A": "high", "column_B": "low", "or_equal": True})
    assert pair["sample"][0]["high"] < pair["sample"][0]["low"]


def test_an_empty_date_is_reported_as_such_and_fails(stored):
    r = audit(stored, "bars", date="2013-09-05")
    assert r.returncode == 1
    assert (f"no rows in {stored['lake'].as_uri()}/dataset=bars/date=2013-09-05 for date 2013-09-05"
            in r.stdout), r.stdout
    assert "no rows in table bars" in r.stdout and "audit passed" not in r.stdout
    rows = latest_audit(stored["conn"], "bars")
    assert {k: v[:3] for k, v in rows.items()} == {("bars", "lake"): (False, 0, 1), ("bars", "table"): (False, 0, 1)}


def test_unreachable_services_and_bad_flags_are_one_line_errors(stored):
    s = stored["settings"]
    r = cli("audit", "--dataset", "bars", "--date", DATE, "--dsn", f"host={s.host} port=1 dbname=x user=x")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cannot reach PostgreSQL" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tickflow.cli", "audit", "--dataset", "bars", "--date", DATE,
                        "--lake", "s3://tickflow/lake"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TICKFLOW_S3_PORT": "1"})
    assert r.returncode == 1 and r.stderr.strip() == f"tickflow: audit: cannot reach S3 at http://{s.host}:1", r.stderr
    r = cli("audit", "--dataset", "quotes", "--date", DATE)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "invalid choice: 'quotes'" in r.stderr
    r = cli("audit", "--dataset", "bars", "--date", "2013-09-31")
    assert r.returncode == 2 and r.stderr.strip() == "tickflow: audit: --date '2013-09-31' is not a date (YYYY-MM-DD)"


def test_the_audit_reads_a_lake_on_the_s3_endpoint(stored):
    """The local lake's trades (date and hour partitions) copied to the stack's S3, audited from there."""
    from tickflow.stack import s3_client

    s = stored["settings"]
    prefix = f"audit-{uuid.uuid4().hex[:8]}"
    client = s3_client(s)
    for path in (stored["lake"] / "dataset=trades" / f"date={DATE}").rglob("*"):
        if path.is_file():
            client.upload_file(str(path), s.s3_bucket, f"{prefix}/{path.relative_to(stored['lake']).as_posix()}")
    r = audit(stored, "trades", lake=f"s3://{s.s3_bucket}/{prefix}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS trades @ lake" in r.stdout and "PASS trades.lake_vs_table" in r.stdout
