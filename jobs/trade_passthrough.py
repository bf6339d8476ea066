"""The passthrough job: ``md.raw.trades`` → parse → re-key by ``source|symbol`` → ``md.trades.parsed``.

The smallest job on the wiring every other job relies on, and the benchmarks' reference rate: the Kafka
source and the transactional Kafka sink from the jars Maven gathered, JSON parsed once in the JVM into
exact DECIMALs, exactly-once delivery on checkpoints, and deterministic operator uids. All per-record
work is Flink SQL; no Python runs per record.

Run it locally with ``tickflow run trade_passthrough [--bounded]`` or on the session cluster with
``tickflow submit trade_passthrough``.
"""
from __future__ import annotations

import argparse
import sys

from jobs import catalog
from tickflow.runtime import config
from tickflow.runtime.flink_runtime import (
    job_argument_parser,
    local_bounded_run,
    table_environment,
)
from tickflow.runtime.kafka_tables import exactly_once_sink_options, source_options

JOB = catalog.TRADE_PASSTHROUGH
JOB_NAME = JOB.name
INPUT_TOPICS = JOB.input_topics
(SOURCE_TOPIC,) = INPUT_TOPICS
SINK_TOPIC = "md.trades.parsed"
GROUP_ID = JOB.group_id


def source_ddl(bootstrap: str, bounded: bool, group_id: str) -> str:
    """The raw trades as a table: one JSON parse per record, decimals parsed from their text exactly.

    It resumes from the consumer group's committed offsets (committed on each checkpoint), so a second
    bounded run moves only what arrived since the first.
    """
    options = source_options(SOURCE_TOPIC, bootstrap, group_id, bounded, """
      'format' = 'json',
      'json.fail-on-missing-field' = 'false',
      'json.ignore-parse-errors' = 'true'""")
    return f"""
    CREATE TEMPORARY TABLE raw_trades (
      v INT, source STRING, symbol STRING, venue STRING,
      ts_event BIGINT, ts_recv BIGINT, seq BIGINT,
      price DECIMAL(18, 9), size DECIMAL(18, 9), trade_id STRING,
      raw_partition INT METADATA FROM 'partition' VIRTUAL,
      raw_offset BIGINT METADATA FROM 'offset' VIRTUAL
    ) WITH ({options})"""


def sink_ddl(bootstrap: str, transactional_prefix: str) -> str:
    """Parsed trades keyed by source|symbol, written in Kafka transactions committed on checkpoints."""
    return f"""
    CREATE TEMPORARY TABLE parsed_trades (
      k STRING, source STRING, symbol STRING, venue STRING,
      ts_event BIGINT, ts_recv BIGINT, seq BIGINT,
      price STRING, size STRING, trade_id STRING,
      raw_partition INT, raw_offset BIGINT
    ) WITH ({exactly_once_sink_options(SINK_TOPIC, bootstrap, transactional_prefix)})"""


INSERT = """
    INSERT INTO parsed_trades
    SELECT CONCAT(source, '|', symbol), source, symbol, venue, ts_event, ts_recv, seq,
           CAST(price AS STRING), CAST(size AS STRING), trade_id, raw_partition, raw_offset
    FROM raw_trades"""


def build(t_env, bootstrap: str, bounded: bool, group_id: str = GROUP_ID,
          transactional_prefix: str = "tickflow-trade-passthrough"):
    """Declare the tables on ``t_env`` and start the INSERT; returns its TableResult."""
    t_env.execute_sql(source_ddl(bootstrap, bounded, group_id))
    t_env.execute_sql(sink_ddl(bootstrap, transactional_prefix))
    return t_env.execute_sql(INSERT)


def parse_args(argv: list[str]) -> argparse.Namespace:
    return job_argument_parser("trade_passthrough", __doc__.splitlines()[0]).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = config.load()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    with local_bounded_run(args, bootstrap, GROUP_ID, INPUT_TOPICS):
        t_env = table_environment(settings, JOB_NAME, parallelism=args.parallelism, on_cluster=args.cluster)
        result = build(t_env, bootstrap, args.bounded)
        if not args.cluster:
            result.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
