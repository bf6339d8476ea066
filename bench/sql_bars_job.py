"""Bare Flink SQL over the raw trades: the reference the processor is read against in
bench/processor_throughput.py — one JSON parse per record with the built-in ``json`` format into DECIMAL, a
tumbling 1m OHLCV per symbol in event time, written to a Kafka topic exactly-once. No classification, no
dead letters, no duplicate check, no revisions: what Flink does for a 1m bar with nothing of tickflow's.

    .venv/bin/python bench/sql_bars_job.py --topic bench.sql.bars [--parallelism 2] [--group-id G] [--bounded]

Runs in a local MiniCluster with the settings every tickflow job has (bench_stack.py points them at the
bench stack: RocksDB, checkpoints every 2 s); the output topic must exist.
"""
from __future__ import annotations

import argparse
import sys
import time

import bench_stack  # noqa: F401  (the bench stack's settings before tickflow reads them)

from tickflow.runtime import config
from tickflow.runtime.flink_runtime import table_environment
from tickflow.runtime.kafka_tables import exactly_once_sink_options, source_options

JOB_NAME = "bench_sql_bars"
# a record stamped later than a day after the job starts moves no watermark (a far-future stamp would
# close every window at once): it is filtered out, as the processor dead-letters it (FUTURE_TIMESTAMP)
FUTURE_TOLERANCE_S = 86_400

SOURCE = """
CREATE TEMPORARY TABLE raw_trades (
  symbol STRING, ts_event BIGINT, price DECIMAL(18, 9), size DECIMAL(18, 9),
  sane AS price > 0 AND size > 0 AND ts_event > 0 AND ts_event < {max_ts} AND symbol IS NOT NULL,
  rowtime AS TO_TIMESTAMP_LTZ(IF(price > 0 AND size > 0 AND ts_event > 0 AND ts_event < {max_ts},
                                 ts_event, 0) / 1000000, 3),
  WATERMARK FOR rowtime AS rowtime - INTERVAL '2' SECOND
) WITH ({options})"""

SINK = """
CREATE TEMPORARY TABLE sql_bars (
  k STRING, symbol STRING, bucket_start BIGINT, bucket_end BIGINT,
  `open` DECIMAL(18, 9), high DECIMAL(18, 9), low DECIMAL(18, 9), `close` DECIMAL(18, 9),
  volume DECIMAL(38, 9), trade_count BIGINT
) WITH ({options})"""

VIEW = """
CREATE TEMPORARY VIEW sane_trades AS SELECT symbol, price, size, rowtime FROM raw_trades WHERE sane"""

INSERT = """
INSERT INTO sql_bars
SELECT CONCAT(symbol, '|1m|', CAST(bucket AS STRING)), symbol, bucket * 1000000000, (bucket + 60) * 1000000000,
       o, h, l, c, v, n
FROM (
  SELECT symbol, UNIX_TIMESTAMP(DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm:ss')) AS bucket,
         FIRST_VALUE(price) AS o, MAX(price) AS h, MIN(price) AS l, LAST_VALUE(price) AS c, SUM(size) AS v,
         COUNT(*) AS n
  FROM TABLE(TUMBLE(TABLE sane_trades, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))
  GROUP BY symbol, window_start, window_end)"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topic", required=True, help="the output topic (must exist)")
    p.add_argument("--source-topic", default="md.raw.trades")
    p.add_argument("--group-id", default="bench-sql-bars")
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--bounded", action="store_true", help="stop at the input's end offsets at start")
    args = p.parse_args(argv)
    s = config.load()
    # as the processor's bounded run: no idleness, so a partition read late still holds event time back
    t_env = table_environment(s, JOB_NAME, parallelism=args.parallelism,
                              extra={"table.exec.source.idle-timeout": "0 ms", "table.local-time-zone": "UTC"})
    max_ts = int(time.time() + FUTURE_TOLERANCE_S) * 1_000_000_000
    t_env.execute_sql(SOURCE.format(max_ts=max_ts, options=source_options(
        args.source_topic, s.kafka_bootstrap, args.group_id, args.bounded, """
      'format' = 'json',
      'json.fail-on-missing-field' = 'false',
      'json.ignore-parse-errors' = 'true'""")))
    t_env.execute_sql(SINK.format(options=exactly_once_sink_options(args.topic, s.kafka_bootstrap, "bench-sql-bars")))
    t_env.execute_sql(VIEW)
    t_env.execute_sql(INSERT).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
