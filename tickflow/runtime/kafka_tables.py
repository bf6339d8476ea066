"""The WITH options of tickflow's Kafka tables, written once for every job.

Sources read committed records from the consumer group's offsets (committed on checkpoints), so a job
resumes where it stopped and a bounded run moves only what arrived since the last. Sinks write in Kafka
transactions committed on checkpoints (exactly-once), keyed by the column ``k``; how long such a transaction
may stay open, and why, is ``tickflow/runtime/kafka_transactions.py``.
"""
from __future__ import annotations

from tickflow.runtime.kafka_transactions import TRANSACTION_TIMEOUT_MS

# md.bars and md.indicators: one partition per symbol|timeframe series (jobs/jvm, io.tickflow.kafka), so a
# series is read back in the order it was written although its keys differ per bucket.
SERIES_PARTITIONER = "io.tickflow.kafka.SeriesPartitioner"


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


def raw_source_options(topic: str, bootstrap: str, group_id: str, bounded: bool) -> str:
    """A source of raw bytes: the key in column ``k``, the value as it arrived in the other column, so a
    job sees (and can dead-letter) every record, parsed or not."""
    return source_options(topic, bootstrap, group_id, bounded, """
      'key.format' = 'raw',
      'key.fields' = 'k',
      'value.format' = 'raw',
      'value.fields-include' = 'EXCEPT_KEY'""")


def exactly_once_sink_options(topic: str, bootstrap: str, transactional_prefix: str,
                              value_format: str = "json", partitioner: str = "default") -> str:
    """Options of a transactional Kafka sink with a raw key column ``k``; the value is the rest of the row
    as JSON, or (``value_format="raw"``) one BYTES column written as it is. ``partitioner``: Flink's
    ``sink.partitioner`` ('default' hashes the key like any Kafka producer)."""
    return _keyed_sink_options(topic, bootstrap, value_format, partitioner) + f""",
      'sink.delivery-guarantee' = 'exactly-once',
      'sink.transactional-id-prefix' = '{transactional_prefix}',
      'properties.transaction.timeout.ms' = '{TRANSACTION_TIMEOUT_MS}'"""


def at_least_once_sink_options(topic: str, bootstrap: str, value_format: str = "json",
                               partitioner: str = "default") -> str:
    """As :func:`exactly_once_sink_options` without transactions: records are visible as soon as they are
    written (flushed on each checkpoint), and a restart from a checkpoint writes again what followed it.
    Only for topics read as upserts, where a repeat is harmless."""
    return _keyed_sink_options(topic, bootstrap, value_format, partitioner) + """,
      'sink.delivery-guarantee' = 'at-least-once'"""


def _keyed_sink_options(topic: str, bootstrap: str, value_format: str, partitioner: str) -> str:
    return f"""
      'connector' = 'kafka',
      'topic' = '{topic}',
      'properties.bootstrap.servers' = '{bootstrap}',
      'key.format' = 'raw',
      'key.fields' = 'k',
      'value.format' = '{value_format}',
      'value.fields-include' = 'EXCEPT_KEY',
      'sink.partitioner' = '{partitioner}'"""
