"""md.dlq in the jobs' SQL: the sink table and the columns of a dead letter, for every job that writes one.

The record's definition and its size limits are tickflow/runtime/dead_letter.py; the original's bytes go through the
JVM function ``DEAD_LETTER_ORIGINAL`` (declared by jobs/raw_trades.py) with those limits.
"""
from __future__ import annotations

from tickflow.runtime import dead_letter
from tickflow.runtime.kafka_tables import exactly_once_sink_options

COLUMNS = ("k BYTES, reason STRING, detail STRING, topic STRING, `partition` INT, `offset` BIGINT, "
           "original STRING, original_encoding STRING, original_size INT, original_sha256 STRING, "
           "original_truncated BOOLEAN, seen_at BIGINT, component STRING")


def table_statement(table: str, bootstrap: str, transactional_id: str) -> str:
    """The transactional md.dlq sink, keyed by the refused record's own key."""
    return (f"CREATE TEMPORARY TABLE {table} ({COLUMNS}) "
            f"WITH ({exactly_once_sink_options('md.dlq', bootstrap, transactional_id)})")


def select(reason: str, detail: str, topic: str, component: str, key: str = "k", payload: str = "payload",
           partition: str = "kafka_partition", offset: str = "kafka_offset") -> str:
    """The SELECT list of one dead letter: SQL expressions for reason and detail, literals for the topic the
    record came from and the component refusing it."""
    original = (f"DEAD_LETTER_ORIGINAL({payload}, {dead_letter.MAX_WHOLE_ORIGINAL_BYTES}, "
                f"{dead_letter.TRUNCATED_PREFIX_BYTES})")
    return (f"{key}, {reason}, {detail}, '{topic}', {partition}, {offset}, {original}.original, "
            f"{original}.original_encoding, {original}.original_size, {original}.original_sha256, "
            f"{original}.original_truncated, UNIX_TIMESTAMP() * 1000000000, '{component}'")
