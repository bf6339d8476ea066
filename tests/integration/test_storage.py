"""The storage writer on the real stack: the real ES trades → processor → md.bars / md.raw.trades →
PostgreSQL upserts and the Parquet lake (local and on the S3 endpoint); then the TimescaleDB layer on a
real TimescaleDB (the WebAssembly build) over the same bars."""
from __future__ import annotations

import json
import uuid
from decimal import Decimal

import psycopg2
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from tests.integration import timescaledb_wasm
from tests.integration.job_cli import cli, run_job
from tests.integration.kafka_tools import publish, reset_topics
from tickflow import migrations
from tickflow.runtime.kafka_reading import read_to_end
from tickflow.stack import s3_client

TOPICS = ["md.raw.trades", "md.raw.quotes", "md.bars", "md.dlq", "md.quotes", "md.indicators"]
BAR_COLUMNS = ("open", "high", "low", "close", "volume", "vwap")




def final_bars(records: list[dict]) -> dict[tuple, dict]:
    """The highest revision of every (symbol, timeframe, bucket_start)."""
    out: dict[tuple, dict] = {}
    for b in records:
        key = (b["symbol"], b["timeframe"], b["bucket_start"])
        if key not in out or b["revision"] >= out[key]["revision"]:
            out[key] = b
    return out


def table_bars(dsn: str) -> dict[tuple, dict]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("""SELECT symbol, timeframe,
                              (extract(epoch FROM bucket_start) * 1e9)::bigint,
                              (extract(epoch FROM bucket_end) * 1e9)::bigint,
                              open, high, low, close, volume, vwap, trade_count, revision, sources, pipeline_version
                       FROM bars""")
        rows = cur.fetchall()
    names = ("symbol", "timeframe", "bucket_start", "bucket_end", *BAR_COLUMNS, "trade_count", "revision",
             "sources", "pipeline_version")
    return {(r[0], r[1], r[2]): dict(zip(names, r)) for r in rows}


def as_row(bar: dict) -> dict:
    """A md.bars record in the types a reader of the table or the lake gets back."""
    return {**bar, **{c: Decimal(bar[c]) for c in BAR_COLUMNS}}


def lake_bars(path: str, filesystem=None) -> list[dict]:
    table = ds.dataset(path, format="parquet", partitioning="hive", filesystem=filesystem).to_table()
    return [{k: v for k, v in r.items() if k != "date"} for r in table.to_pylist()]


@pytest.fixture(scope="module")
def stored(running_stack, tmp_path_factory):
    """The full ES sample through the processor, then its first 100,000 trades replayed again to
    md.raw.trades (duplicates the archive must drop; a subset keeps CI inside its time); a malformed
    bar after the bars; the storage writer run twice from the start of the topics: first to PostgreSQL and
    a local lake, then to PostgreSQL again and a lake on the S3 endpoint."""
    s = running_stack
    reset_topics(s.kafka_bootstrap, TOPICS)
    conn = migrations.connect(s.postgres_dsn)
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    r = cli("db", "migrate")
    assert r.returncode == 0, r.stderr
    r = cli("replay", timeout=300)
    assert r.returncode == 0, r.stderr
    quotes = [{"v": 1, "source": "polygon", "symbol": "AAPL", "venue": "XNAS", "ts_event": 1700000000123456789 + i,
               "ts_recv": 1700000000124000000 + i, "seq": 7 + i, "bid": "189.70", "bid_size": "300",
               "ask": f"189.7{2 + i}", "ask_size": "200"} for i in range(3)]
    publish(s.kafka_bootstrap, [("md.raw.quotes", b"AAPL", json.dumps(q).encode()) for q in quotes])
    run_job("market_data_processor")
    bars = [json.loads(m.value) for m in read_to_end(s.kafka_bootstrap, "md.bars")]
    [(_, malformed_partition, malformed_offset)] = publish(
        s.kafka_bootstrap, [("md.bars", b"ES|1m|x", b'{"symbol": "ES", "timeframe": "1m", "open": "x"}', 0)])
    r = cli("replay", "--limit", "100000", timeout=300)  # the same trades again: archived once
    assert r.returncode == 0, r.stderr
    local_lake = tmp_path_factory.mktemp("lake")
    run_job("storage_writer", "--lake", str(local_lake))
    first = table_bars(s.postgres_dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT (source, symbol, seq)) FROM trades")
        first_trades = cur.fetchone()
    s3_lake = f"s3://{s.s3_bucket}/lake-{uuid.uuid4().hex[:8]}"
    run_job("storage_writer", "--lake", s3_lake)
    dlq = [json.loads(m.value) for m in read_to_end(s.kafka_bootstrap, "md.dlq")]
    yield {"settings": s, "bars": bars, "quotes": quotes, "first": first, "first_trades": first_trades,
           "local_lake": local_lake, "s3_lake": s3_lake, "dlq": dlq,
           "malformed": (malformed_partition, malformed_offset), "conn": conn}
    conn.close()


def test_bars_table_equals_md_bars_exactly(stored):
    expected = {k: as_row(v) for k, v in final_bars(stored["bars"]).items()}
    assert len(expected) > 2900
    assert stored["first"] == expected


def test_trades_replayed_twice_and_read_twice_are_archived_once(stored):
    s = stored["settings"]
    assert table_bars(s.postgres_dsn) == stored["first"]
    with stored["conn"].cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT (source, symbol, seq)) FROM trades")
        assert cur.fetchone() == stored["first_trades"] == (500_000, 500_000)


def test_archived_trades_are_the_replayed_ticks_with_exact_prices(stored):
    with stored["conn"].cursor() as cur:
        cur.execute("SELECT min(price), max(price), sum(size), "
                    "count(*) FILTER (WHERE time <> to_timestamp(ts_event / 1e9)) "
                    "FROM trades WHERE symbol = 'ES'")
        low, high, volume, mismatched_times = cur.fetchone()
    one_minute = [b for b in stored["bars"] if b["timeframe"] == "1m"]
    assert low == min(Decimal(b["low"]) for b in one_minute)
    assert high == max(Decimal(b["high"]) for b in one_minute)
    assert volume == sum(Decimal(b["volume"]) for b in final_bars(one_minute).values())
    assert mismatched_times == 0


def test_validated_quotes_are_archived_with_exact_decimals_and_microsecond_times(stored):
    with stored["conn"].cursor() as cur:
        cur.execute("SELECT seq, ts_event, bid, ask, extract(microseconds FROM time)::bigint FROM quotes ORDER BY seq")
        rows = cur.fetchall()
    # time: 2023-11-14T22:13:20.123456789Z truncated to the microsecond
    assert rows == [(q["seq"], q["ts_event"], Decimal(q["bid"]), Decimal(q["ask"]), 20_123_456)
                    for q in stored["quotes"]]


def test_local_lake_bars_read_back_with_pyarrow_equal_md_bars(stored):
    lake = lake_bars(str(stored["local_lake"] / "dataset=bars"))
    assert sorted(lake, key=lambda b: (b["timeframe"], b["bucket_start"], b["revision"])) == \
        sorted((as_row(b) for b in stored["bars"]), key=lambda b: (b["timeframe"], b["bucket_start"], b["revision"]))


def test_lake_is_hive_partitioned_zstd_parquet_with_decimals(stored):
    import pyarrow.parquet as pq

    root = stored["local_lake"]
    trade_files = [p for p in (root / "dataset=trades").rglob("*") if p.is_file() and p.name != "_SUCCESS"]
    assert trade_files and all(p.parent.name.startswith("hour=") and p.parent.parent.name.startswith("date=")
                               for p in trade_files)
    meta = pq.ParquetFile(trade_files[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    trades = ds.dataset(str(root / "dataset=trades"), format="parquet", partitioning="hive")
    assert str(trades.schema.field("price").type) == "decimal128(18, 9)"
    assert trades.count_rows() == 500_000


def test_s3_lake_holds_the_same_rows_as_the_local_lake(stored):
    s = stored["settings"]
    bucket, _, prefix = stored["s3_lake"][len("s3://"):].partition("/")
    keys = [o["Key"] for page in s3_client(s).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    assert any("/dataset=trades/date=" in k for k in keys)
    fs = pafs.S3FileSystem(access_key=s.s3_access_key, secret_key=s.s3_secret_key, endpoint_override=s.s3_endpoint,
                           scheme="http", region="us-east-1")
    key = lambda b: (b["timeframe"], b["bucket_start"], b["revision"])  # noqa: E731
    assert sorted(lake_bars(f"{bucket}/{prefix}/dataset=bars", fs), key=key) == \
        sorted(lake_bars(str(stored["local_lake"] / "dataset=bars")), key=key)
    trades = ds.dataset(f"{bucket}/{prefix}/dataset=trades", format="parquet", partitioning="hive", filesystem=fs)
    assert trades.count_rows() == 500_000


def test_a_malformed_bar_goes_to_the_dlq_once_per_run_with_its_bytes(stored):
    partition, offset = stored["malformed"]
    mine = [d for d in stored["dlq"] if d["component"] == "storage_writer"]
    assert len(mine) == 2  # the record was read twice (two runs from the start)
    assert ({(d["reason"], d["topic"], d["partition"], d["offset"]) for d in mine}
            == {("MALFORMED", "md.bars", partition, offset)})


# --- the migrations on plain PostgreSQL ------------------------------------------------------------------

def test_migrate_again_does_nothing_and_says_why_timescaledb_is_skipped(stored):
    r = cli("db", "migrate")
    assert r.returncode == 0, r.stderr
    assert "schema up to date" in r.stdout
    assert "skipped 002_timescaledb: needs the timescaledb extension" in r.stdout


def test_db_status_as_json_lists_every_migration_and_when_it_was_applied(stored):
    r = cli("db", "status", "--json")
    assert r.returncode == 0, r.stderr
    rows = {m["name"]: m for m in json.loads(r.stdout)}
    assert rows["tables"]["version"] == 1 and rows["tables"]["applied_at"] is not None
    assert rows["timescaledb"]["requires"] == "timescaledb" and rows["timescaledb"]["applied_at"] is None


def test_migrate_refuses_a_database_at_a_newer_schema_version(stored):
    with stored["conn"].cursor() as cur:
        cur.execute(f"INSERT INTO {migrations.LEDGER} (version, name, checksum) VALUES (999, 'future', 'x')")
    try:
        r = cli("db", "migrate")
    finally:
        with stored["conn"].cursor() as cur:
            cur.execute(f"DELETE FROM {migrations.LEDGER} WHERE version = 999")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "schema is at version 999, newer than this tickflow's" in r.stderr


# --- the TimescaleDB layer on a real TimescaleDB (WebAssembly build) --------------------------------------

@pytest.fixture(scope="module")
def timescale(stored):
    """A TimescaleDB server, migrated, holding the bars tickflow wrote and every 25th archived trade."""
    s = stored["settings"]
    server = timescaledb_wasm.start(s.postgres_port + 66, s.log_dir / "timescaledb-wasm.log")
    try:
        conn = migrations.connect(server.dsn)
        applied = migrations.migrate(conn, log=lambda _: None)
        copy_rows(stored["conn"], conn, "bars", "SELECT * FROM bars")
        copy_rows(stored["conn"], conn, "trades", "SELECT * FROM trades WHERE seq % 25 = 0")
        yield {"conn": conn, "applied": [m.version for m in applied]}
        conn.close()
    finally:
        server.stop()


def copy_rows(source, target, table: str, query: str) -> None:
    """Rows from plain PostgreSQL into TimescaleDB, 100 per INSERT: the WASM server's socket crashed on
    statements of ~100 kB (500 bar rows), so statements stay small."""
    from psycopg2.extras import execute_values

    with source.cursor() as src, target.cursor() as dst:
        src.execute(query)
        columns = ", ".join(d.name for d in src.description)
        while rows := src.fetchmany(5000):
            execute_values(dst, f"INSERT INTO {table} ({columns}) VALUES %s", rows, page_size=100)


def one(conn, sql: str, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_every_migration_applies_on_timescaledb_and_a_second_run_does_nothing(timescale):
    assert timescale["applied"] == [m.version for m in migrations.load()]  # 002, the TimescaleDB layer, too
    assert migrations.migrate(timescale["conn"], log=lambda _: None) == []
    hypertables = {r[0] for r in one(timescale["conn"],
                                     "SELECT hypertable_name FROM timescaledb_information.hypertables")}
    assert hypertables == {"trades", "quotes", "bars", "indicators", "quality", "news"}


def test_trades_chunk_by_utc_day(timescale):
    conn = timescale["conn"]
    [(days,)] = one(conn, "SELECT count(DISTINCT date_trunc('day', time AT TIME ZONE 'UTC')) FROM trades")
    [(chunks,)] = one(conn, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'trades'")
    assert days == chunks == 3


def test_daily_summary_aggregate_equals_tickflows_own_1d_bars(timescale, stored):
    conn = timescale["conn"]
    conn.cursor().execute("CALL refresh_continuous_aggregate('bars_daily_summary', NULL, NULL)")
    summary = {(r[0], r[1]): r[2:] for r in one(conn, """
        SELECT symbol, (extract(epoch FROM day) * 1e9)::bigint, open, high, low, close, volume, vwap, trade_count
        FROM bars_daily_summary""")}
    daily = [b for b in final_bars(stored["bars"]).values() if b["timeframe"] == "1d"]
    assert len(daily) == len(summary) == 2
    for b in daily:
        o, h, l, c, volume, vwap, count = summary[(b["symbol"], b["bucket_start"])]
        assert (o, h, l, c, volume, count) == (Decimal(b["open"]), Decimal(b["high"]), Decimal(b["low"]),
                                               Decimal(b["close"]), Decimal(b["volume"]), b["trade_count"])
        assert abs(vwap - Decimal(b["vwap"])) < Decimal("1e-6")


def job_id(conn, proc: str, table: str | None) -> int:
    rows = one(conn, "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s "
                     "AND hypertable_name IS NOT DISTINCT FROM %s", proc, table)
    assert len(rows) == 1, (proc, table, rows)
    return rows[0][0]


def test_compression_then_retention_policies_run(timescale):
    conn = timescale["conn"]
    before = one(conn, "SELECT count(*), sum(price * size) FROM trades")
    conn.cursor().execute("CALL run_job(%s)", (job_id(conn, "policy_compression", "trades"),))
    compressed = one(conn, "SELECT bool_and(is_compressed), count(*) FROM timescaledb_information.chunks "
                           "WHERE hypertable_name = 'trades'")
    assert compressed == [(True, 3)]
    assert one(conn, "SELECT count(*), sum(price * size) FROM trades") == before

    conn.cursor().execute("CALL run_job(%s)", (job_id(conn, "policy_retention", "trades"),))
    assert one(conn, "SELECT count(*) FROM trades") == [(0,)]
    assert one(conn, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'trades'") == [(0,)]

    # bars: retention by timeframe; the 2013 minute bars are past their 90 days, daily bars are kept
    conn.cursor().execute("CALL run_job(%s)", (job_id(conn, "tickflow_prune_bars", None),))
    kept = dict(one(conn, "SELECT timeframe, count(*) FROM bars GROUP BY timeframe"))
    assert kept == {"1d": 2}
