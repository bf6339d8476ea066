"""The WITH options of tickflow's Kafka tables, written once for every job.

Sources read committed records from the consumer group's offsets (committed on checkpoints), so a job
resumes where it stopped and a bounded run moves only what arrived since the last. Sinks write in Kafka
transactions committed on checkpoints (exactly-once), keyed by the column ``k``.
"""
from __future__ import annotations

# Flink's transactional sink needs transaction.timeout.ms at or below the broker's maximum (15 min here).
TRANSACTION_TIMEOUT_MS = 600_000


def source_options(topic: str, bootstrap: str, group_id: str, bounded: bool, value_format: str) -> str:
    """Options of a Kafka source table; ``value_format`` is the format's own option lines."""
    bounded_opt = "'scan.bounded.mode' = 'latest-offset'," if bounded else ""
    return f"""
      'connector' = 'kafka',
      'topic' = '{topic}',
      'properties.bootstrap.servers' = '{bootstrap}',
      'properties.group.id' = '{group_id}',
      'properties.isolation.level' = 'read_committed',
      'properties.auto.offset.reset' = 'earliest',
      'scan.startup.mode' = 'group-offsets',
      {bounded_opt}
      {value_format}"""


def exactly_once_sink_options(topic: str, bootstrap: str, transactional_prefix: str) -> str:
    """Options of a transactional Kafka sink with a raw key column ``k`` and a JSON value of the rest."""
    return f"""
      'connector' = 'kafka',
      'topic' = '{topic}',
      'properties.bootstrap.servers' = '{bootstrap}',
      'key.format' = 'raw',
      'key.fields' = 'k',
      'value.format' = 'json',
      'value.fields-include' = 'EXCEPT_KEY',
      'sink.delivery-guarantee' = 'exactly-once',
      'sink.transactional-id-prefix' = '{transactional_prefix}',
      'properties.transaction.timeout.ms' = '{TRANSACTION_TIMEOUT_MS}'"""
