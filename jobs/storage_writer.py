"""The storage writer: processed topics and raw trades → PostgreSQL/TimescaleDB upserts and a Parquet lake.

One Flink SQL job, no Python at run time:

- ``md.bars`` → table ``bars``, ``md.indicators`` → ``indicators``: upserts on ``(symbol, timeframe,
  bucket_start)`` through the ``jdbc`` connector, so a replay or a restart from a checkpoint rewrites the
  same rows and a revision replaces the row it revises.
- ``md.raw.trades`` → ``trades`` (the tick archive): records that parse and pass the processor's rules,
  the first copy of each trade identity (jobs/raw_trades.py: one classification and identity for every
  job), batched upserts on ``(symbol, source, seq, time)``; rejects are the processor's to dead-letter.
  ``md.quotes`` (quotes the processor validated) → ``quotes``, the same way.
- the same three streams → Parquet files under ``<lake>/dataset=trades|bars|indicators/date=…/[hour=…/]``
  (Flink's filesystem sink: files commit on checkpoints, exactly-once; small files of a checkpoint are
  compacted up to ``--lake-file-size``). The lake is a log: a revised bar is a new row with a higher
  ``revision``; readers keep the highest revision per key (docs/storage.md).
- A bar, indicator or quote record that is not valid JSON with its required fields goes to ``md.dlq`` as
  ``MALFORMED`` with its bytes; the job never stops on data.

A database that is down makes the JDBC writer fail after its retries; Flink restarts the job from the
last checkpoint (exponential back-off) and the upserts make the re-written rows harmless.

    tickflow run storage_writer [--bounded] [--lake s3://tickflow/lake] [--no-lake] [--no-db]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from jobs import catalog, dead_letters, raw_trades, validation
from tickflow.runtime import config
from tickflow.runtime.flink_runtime import (
    environments,
    job_argument_parser,
    local_bounded_run,
)
from tickflow.runtime.kafka_tables import raw_source_options

JOB = catalog.STORAGE_WRITER
JOB_NAME = JOB.name
INPUT_TOPICS = JOB.input_topics
LAKE_CONTRACT = config.PROJECT_ROOT / "schemas" / "lake.yaml"
COMPONENT = "storage_writer"

# Exact decimals in Parquet: prices to 9 places (the contract's precision), sizes and volumes wider.
PRICE = "DECIMAL(18, 9)"
QUANTITY = "DECIMAL(28, 9)"
VOLUME = "DECIMAL(38, 9)"  # a bar's volume is a sum of sizes: the widest decimal Flink has
# the trades' watermark (the archive needs none, but the shared first stage declares one): the processor's
OUT_OF_ORDERNESS_MS = 2_000
INDICATORS = ("sma_20", "sma_50", "ema_12", "ema_26", "macd", "macd_signal", "macd_hist", "rsi_14",
              "bb_upper", "bb_mid", "bb_lower", "atr_14", "vwap_day", "stoch_k", "stoch_d")

(FIRST_COPIES_UID,) = JOB.uids
# what the archive needs of each checked trade, through the duplicate check
FIRST_COPY_COLUMNS = "rt, source, symbol, venue, ts_event, ts_recv, seq, price, size, trade_id, reason, detail"

@dataclass(frozen=True)
class StorageOptions:
    bounded: bool = False
    db: bool = True
    lake: str | None = None            # None: the local default under the stack's home; "": no lake
    lake_file_size: str = "128MB"
    lake_compression: str = "ZSTD"
    trade_batch_rows: int = 5000
    allowed_lateness_ms: int = 60_000  # as the processor's: how long a trade identity is held against repeats
    flush_interval: str = "1s"
    group_id: str = JOB.group_id
    transactional_prefix: str = "tickflow-storage"


def lake_root(s: config.Settings, lake: str | None) -> str:
    """The lake's root URI: ``s3://…`` or a local path as given, or ``s3://<the stack's bucket>/lake`` by
    default (where the demo writes it and the audit reads it)."""
    if lake is None:
        return f"s3://{s.s3_bucket}/lake"
    if "://" in lake:
        return lake.rstrip("/")
    return Path(lake).expanduser().resolve().as_uri()


def jdbc_options(s: config.Settings, table: str, batch_rows: int, flush_interval: str) -> str:
    """Options of a JDBC upsert sink. ``stringtype=unspecified`` lets PostgreSQL type the exact decimal
    and timestamp strings by their columns; ``reWriteBatchedInserts`` sends a batch as multi-row inserts."""
    url = f"{s.jdbc_url}?stringtype=unspecified&reWriteBatchedInserts=true"
    return f"""
      'connector' = 'jdbc',
      'url' = '{url}',
      'table-name' = '{table}',
      'username' = '{s.postgres_user}',
      'password' = '{s.postgres_password}',
      'sink.buffer-flush.max-rows' = '{batch_rows}',
      'sink.buffer-flush.interval' = '{flush_interval}',
      'sink.max-retries' = '5'"""


def parquet_options(root: str, dataset: str, o: StorageOptions) -> str:
    return f"""
      'connector' = 'filesystem',
      'path' = '{root}/dataset={dataset}',
      'format' = 'parquet',
      'parquet.compression' = '{o.lake_compression}',
      'auto-compaction' = 'true',
      'compaction.file-size' = '{o.lake_file_size}',
      'sink.rolling-policy.file-size' = '{o.lake_file_size}',
      'sink.partition-commit.policy.kind' = 'success-file'"""


def load_lake_contract(path: Path = LAKE_CONTRACT) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def lake_table_ddl(name: str, spec: dict, root: str, o: StorageOptions) -> str:
    """``lake_<name>``: the dataset's columns (schemas/lake.yaml) plus its partition columns as strings."""
    quoted = lambda c: f"`{c}`"  # noqa: E731 - open, close, date and hour are SQL keywords
    columns = [f"{quoted(c)} {t}" for c, t in spec["columns"].items()]
    columns += [f"{quoted(c)} STRING" for c in spec["partitions"]]
    partitions = ", ".join(quoted(c) for c in spec["partitions"])
    return (f"CREATE TEMPORARY TABLE lake_{name} ({', '.join(columns)}) PARTITIONED BY ({partitions}) "
            f"WITH ({parquet_options(root, name, o)})")


def _raw_source(topic: str, bootstrap: str, o: StorageOptions) -> str:
    return raw_source_options(topic, bootstrap, o.group_id, o.bounded)


def _located_source(table: str, topic: str, bootstrap: str, o: StorageOptions) -> str:
    """A raw-bytes source that also knows each record's partition and offset (for md.dlq)."""
    return (f"CREATE TEMPORARY TABLE {table} (k BYTES, payload BYTES, "
            "kafka_partition INT METADATA FROM 'partition' VIRTUAL, "
            f"kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL) WITH ({_raw_source(topic, bootstrap, o)})")


def _json(field: str, returning: str = "") -> str:
    """A field of the JSON text ``v``; NULL when absent or not of the type (never an error)."""
    if returning == "BIGINT":  # JSON_VALUE cannot return BIGINT, and DOUBLE would round nanoseconds
        return f"TRY_CAST(JSON_VALUE(v, '$.{field}') AS BIGINT)"
    ret = f" RETURNING {returning}" if returning else ""
    return f"JSON_VALUE(v, '$.{field}'{ret})"


def _ts(ns: str) -> str:
    return f"TO_TIMESTAMP_LTZ({ns} / 1000000, 3)"


def statements(s: config.Settings, o: StorageOptions, rules: validation.RuleSet,
               bootstrap: str | None = None) -> list[str]:
    """DDL and views; the INSERTs are in :func:`inserts`."""
    bootstrap = bootstrap or s.kafka_bootstrap
    root = lake_root(s, o.lake)
    indicator_cols = ", ".join(f"{c} DOUBLE" for c in INDICATORS)
    indicator_values = ", ".join(f"{_json(c, 'DOUBLE')} AS {c}" for c in INDICATORS)
    trades_source = _raw_source("md.raw.trades", bootstrap, o)
    out = raw_trades.statements(trades_source, rules, OUT_OF_ORDERNESS_MS, carry=("ts_recv",)) + [
        "CREATE TEMPORARY FUNCTION NS_TO_TIMESTAMPTZ AS 'io.tickflow.udf.NsToTimestamptz' LANGUAGE JAVA",
        _located_source("bars_in", "md.bars", bootstrap, o),
        _located_source("indicators_in", "md.indicators", bootstrap, o),
        _located_source("quotes_in", "md.quotes", bootstrap, o),
        dead_letters.table_statement("dlq", bootstrap, f"{o.transactional_prefix}-dlq"),
        # --- parsed views (JSON fields read once per view; bars and indicators are low-rate streams)
        f"""CREATE TEMPORARY VIEW bars_json AS
            SELECT k, payload, kafka_partition, kafka_offset,
                   {_json('symbol')} AS symbol, {_json('timeframe')} AS timeframe,
                   {_json('bucket_start', 'BIGINT')} AS bucket_start, {_json('bucket_end', 'BIGINT')} AS bucket_end,
                   {_json('open')} AS `open`, {_json('high')} AS high, {_json('low')} AS low,
                   {_json('close')} AS `close`, {_json('volume')} AS volume, {_json('vwap')} AS vwap,
                   {_json('trade_count', 'BIGINT')} AS trade_count, {_json('revision', 'INT')} AS revision,
                   JSON_QUERY(v, '$.sources') AS sources_json,
                   JSON_QUERY(v, '$.sources' RETURNING ARRAY<STRING>) AS sources,
                   {_json('pipeline_version')} AS pipeline_version
            FROM (SELECT *, CAST(payload AS STRING) AS v FROM bars_in)""",
        f"""CREATE TEMPORARY VIEW bars_checked AS SELECT *, ({_all_present(BAR_FIELDS)}
              AND {_decimals(PRICE, 'open', 'high', 'low', 'close', 'vwap')}
              AND {_decimals(VOLUME, 'volume')}) IS TRUE AS ok FROM bars_json""",
        f"""CREATE TEMPORARY VIEW indicators_json AS
            SELECT k, payload, kafka_partition, kafka_offset,
                   {_json('symbol')} AS symbol, {_json('timeframe')} AS timeframe,
                   {_json('bucket_start', 'BIGINT')} AS bucket_start, {_json('bucket_end', 'BIGINT')} AS bucket_end,
                   {_json('bar_revision', 'INT')} AS bar_revision, {_json('indicator_set', 'INT')} AS indicator_set,
                   {indicator_values}, {_json('pipeline_version')} AS pipeline_version
            FROM (SELECT *, CAST(payload AS STRING) AS v FROM indicators_in)""",
        f"""CREATE TEMPORARY VIEW indicators_checked AS
            SELECT *, ({_all_present(INDICATOR_FIELDS)}) IS TRUE AS ok FROM indicators_json""",
        f"""CREATE TEMPORARY VIEW quotes_json AS
            SELECT k, payload, kafka_partition, kafka_offset,
                   {_json('source')} AS source, {_json('symbol')} AS symbol, {_json('venue')} AS venue,
                   {_json('ts_event', 'BIGINT')} AS ts_event, {_json('ts_recv', 'BIGINT')} AS ts_recv,
                   {_json('seq', 'BIGINT')} AS seq, {_json('bid')} AS bid, {_json('bid_size')} AS bid_size,
                   {_json('ask')} AS ask, {_json('ask_size')} AS ask_size
            FROM (SELECT *, CAST(payload AS STRING) AS v FROM quotes_in)""",
        f"""CREATE TEMPORARY VIEW quotes_checked AS SELECT *, ({_all_present(QUOTE_FIELDS)}
              AND {_decimals(QUANTITY, 'bid', 'bid_size', 'ask', 'ask_size')}) IS TRUE AS ok FROM quotes_json""",
        # The first copy of each trade identity (jobs/raw_trades.py, the processor's own definition): a trade
        # replayed twice is archived once, in the lake as in the table.
        """CREATE TEMPORARY VIEW trades_ok AS
            SELECT source, symbol, venue, ts_event, ts_recv, seq, price, size, trade_id
            FROM trades_accepted""",
        # A bar or indicator record missing what its table needs: dead-lettered with its bytes.
        f"""CREATE TEMPORARY VIEW rejects AS
            {_reject_select('bars_checked', 'md.bars')}
            UNION ALL
            {_reject_select('indicators_checked', 'md.indicators')}
            UNION ALL
            {_reject_select('quotes_checked', 'md.quotes')}""",
    ]
    if o.db:
        out += [
            f"""CREATE TEMPORARY TABLE db_bars (
                  symbol STRING, timeframe STRING, bucket_start STRING, bucket_end STRING,
                  `open` STRING, high STRING, low STRING, `close` STRING, volume STRING, vwap STRING,
                  trade_count BIGINT, revision INT, sources STRING, pipeline_version STRING,
                  PRIMARY KEY (symbol, timeframe, bucket_start) NOT ENFORCED
                ) WITH ({jdbc_options(s, 'bars', 500, o.flush_interval)})""",
            f"""CREATE TEMPORARY TABLE db_indicators (
                  symbol STRING, timeframe STRING, bucket_start STRING, bucket_end STRING,
                  bar_revision INT, indicator_set INT, {indicator_cols}, pipeline_version STRING,
                  PRIMARY KEY (symbol, timeframe, bucket_start) NOT ENFORCED
                ) WITH ({jdbc_options(s, 'indicators', 500, o.flush_interval)})""",
            f"""CREATE TEMPORARY TABLE db_quotes (
                  `time` STRING, ts_event BIGINT, ts_recv BIGINT, source STRING, symbol STRING, venue STRING,
                  seq BIGINT, bid STRING, bid_size STRING, ask STRING, ask_size STRING,
                  PRIMARY KEY (symbol, source, seq, `time`) NOT ENFORCED
                ) WITH ({jdbc_options(s, 'quotes', o.trade_batch_rows, o.flush_interval)})""",
            f"""CREATE TEMPORARY TABLE db_trades (
                  `time` STRING, ts_event BIGINT, ts_recv BIGINT, source STRING, symbol STRING, venue STRING,
                  seq BIGINT, trade_id STRING, price DECIMAL(18, 9), size DECIMAL(18, 9),
                  PRIMARY KEY (symbol, source, seq, `time`) NOT ENFORCED
                ) WITH ({jdbc_options(s, 'trades', o.trade_batch_rows, o.flush_interval)})""",
        ]
    if lake_enabled(o):
        out += [lake_table_ddl(name, spec, root, o) for name, spec in load_lake_contract()["datasets"].items()]
    return out


BAR_FIELDS = ("symbol", "timeframe", "bucket_start", "bucket_end", "`open`", "high", "low", "`close`", "volume",
              "vwap", "trade_count", "revision", "sources", "pipeline_version")
QUOTE_FIELDS = ("source", "symbol", "ts_event", "ts_recv", "seq", "bid", "bid_size", "ask", "ask_size")
INDICATOR_FIELDS = ("symbol", "timeframe", "bucket_start", "bucket_end", "bar_revision", "indicator_set",
                    "pipeline_version")


def _all_present(fields: tuple[str, ...]) -> str:
    return " AND ".join(f"{f} IS NOT NULL" for f in fields)


def _decimals(sql_type: str, *fields: str) -> str:
    return " AND ".join(f"TRY_CAST(`{f}` AS {sql_type}) IS NOT NULL" for f in fields)


def _reject_select(view: str, topic: str) -> str:
    columns = dead_letters.select("'MALFORMED'", f"'not a valid {topic} record ({COMPONENT})'", topic, COMPONENT)
    return f"SELECT {columns} FROM {view} WHERE NOT ok"


def lake_enabled(o: StorageOptions) -> bool:
    return o.lake != ""


def _pg_array(json_array: str) -> str:
    """'["a","b"]' → '{"a","b"}', PostgreSQL's array literal (source names hold no brackets)."""
    return f"CONCAT('{{', SUBSTRING({json_array} FROM 2 FOR CHAR_LENGTH({json_array}) - 2), '}}')"


def inserts(o: StorageOptions) -> list[str]:
    indicator_names = ", ".join(INDICATORS)
    day = "DATE_FORMAT({}, 'yyyy-MM-dd')"
    out = ["INSERT INTO dlq SELECT * FROM rejects"]
    if o.db:
        out += [
            f"""INSERT INTO db_bars SELECT symbol, timeframe, NS_TO_TIMESTAMPTZ(bucket_start),
                  NS_TO_TIMESTAMPTZ(bucket_end), `open`, high, low, `close`, volume, vwap, trade_count, revision,
                  {_pg_array('sources_json')}, pipeline_version FROM bars_checked WHERE ok""",
            f"""INSERT INTO db_indicators SELECT symbol, timeframe, NS_TO_TIMESTAMPTZ(bucket_start),
                  NS_TO_TIMESTAMPTZ(bucket_end), bar_revision, indicator_set, {indicator_names}, pipeline_version
                FROM indicators_checked WHERE ok""",
            """INSERT INTO db_quotes SELECT NS_TO_TIMESTAMPTZ(ts_event), ts_event, ts_recv, source, symbol, venue,
                  seq, bid, bid_size, ask, ask_size FROM quotes_checked WHERE ok""",
            """INSERT INTO db_trades SELECT NS_TO_TIMESTAMPTZ(ts_event), ts_event, ts_recv, source, symbol, venue,
                  seq, trade_id, price, size FROM trades_ok""",
        ]
    if lake_enabled(o):
        out += [
            f"""INSERT INTO lake_trades SELECT ts_event, ts_recv, source, symbol, venue, seq, trade_id,
                  CAST(price AS {PRICE}), CAST(size AS {QUANTITY}), {day.format(_ts('ts_event'))},
                  DATE_FORMAT({_ts('ts_event')}, 'HH') FROM trades_ok""",
            f"""INSERT INTO lake_bars SELECT symbol, timeframe, bucket_start, bucket_end, CAST(`open` AS {PRICE}),
                  CAST(high AS {PRICE}), CAST(low AS {PRICE}), CAST(`close` AS {PRICE}), CAST(volume AS {VOLUME}),
                  CAST(vwap AS {PRICE}), trade_count, revision,
                  sources, pipeline_version, {day.format(_ts('bucket_start'))} FROM bars_checked WHERE ok""",
            f"""INSERT INTO lake_indicators SELECT symbol, timeframe, bucket_start, bucket_end, bar_revision,
                  indicator_set, {indicator_names}, pipeline_version, {day.format(_ts('bucket_start'))}
                FROM indicators_checked WHERE ok""",
        ]
    return out


def build(s: config.Settings, o: StorageOptions, bootstrap: str | None = None, on_cluster: bool = False,
          parallelism: int | None = None):
    """The job's environments with every INSERT in one statement set."""
    # UTC: the lake's date/hour partitions are UTC days and hours
    extra = {"table.local-time-zone": "UTC"}
    if o.bounded:
        extra["table.exec.source.idle-timeout"] = "0 ms"
    env, t_env = environments(s, JOB_NAME, parallelism=parallelism, on_cluster=on_cluster, extra=extra)
    raw_trades.execute_with_first_copies(t_env, statements(s, o, validation.load_rules(), bootstrap),
                                         o.allowed_lateness_ms, FIRST_COPIES_UID, FIRST_COPY_COLUMNS)
    stmt_set = t_env.create_statement_set()
    for stmt in inserts(o):
        stmt_set.add_insert_sql(stmt)
    return env, t_env, stmt_set


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = job_argument_parser("storage_writer", "processed topics and raw trades → PostgreSQL upserts and Parquet")
    p.add_argument("--lake", help="lake root: a directory or s3://bucket/prefix "
                                  "(default: s3://<TICKFLOW_S3_BUCKET>/lake)")
    p.add_argument("--no-lake", action="store_true", help="write no Parquet")
    p.add_argument("--no-db", action="store_true", help="write nothing to PostgreSQL")
    p.add_argument("--lake-file-size", default=StorageOptions.lake_file_size,
                   help="target Parquet file size after compaction (default: %(default)s)")
    p.add_argument("--lake-compression", default=StorageOptions.lake_compression, choices=["ZSTD", "SNAPPY"])
    p.add_argument("--trade-batch-rows", type=int, default=StorageOptions.trade_batch_rows)
    p.add_argument("--group-id", default=StorageOptions.group_id)
    p.add_argument("--allowed-lateness-ms", type=int, default=StorageOptions.allowed_lateness_ms,
                   help="how long after its minute a trade's identity is held against repeats (default: %(default)s)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    o = StorageOptions(bounded=args.bounded, db=not args.no_db, lake="" if args.no_lake else args.lake,
                       lake_file_size=args.lake_file_size, lake_compression=args.lake_compression,
                       trade_batch_rows=args.trade_batch_rows, group_id=args.group_id,
                       allowed_lateness_ms=args.allowed_lateness_ms)
    if not o.db and not lake_enabled(o):
        print("storage_writer: --no-db and --no-lake leave nothing to write", file=sys.stderr)
        return 2
    s = config.load()
    with local_bounded_run(args, args.bootstrap or s.kafka_bootstrap, o.group_id, INPUT_TOPICS):
        _, _, stmt_set = build(s, o, args.bootstrap, args.cluster, args.parallelism)
        result = stmt_set.execute()
        if not args.cluster:
            result.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
