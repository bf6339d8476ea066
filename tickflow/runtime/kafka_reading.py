"""Reading topics to their end, as downstream consumers do (``read_committed``), for the demo, tests and
benchmarks. Reading stops when every partition's position reaches the end offset taken at the start,
never on a quiet-period timeout."""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from kafka import KafkaConsumer, TopicPartition

from tickflow.runtime.errors import StackError


def _consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                         enable_auto_commit=False, auto_offset_reset="earliest",
                         fetch_max_bytes=64 << 20, max_partition_fetch_bytes=16 << 20,
                         client_id="tickflow-reader")


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset after the last committed record (the last stable offset)."""
    c = _consumer(bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
        return {tp.partition: off for tp, off in c.end_offsets(parts).items()}
    finally:
        c.close()


def group_positions(bootstrap: str, topic: str, group_id: str) -> dict[int, int]:
    """Per partition, where consumer group ``group_id`` would start reading: its committed offset, or the
    first offset still in the topic when it has none (as a job with ``auto.offset.reset=earliest``)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False,
                      client_id="tickflow-reader")
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
        first = c.beginning_offsets(parts)
        return {tp.partition: max(c.committed(tp) or 0, first[tp]) for tp in parts}
    finally:
        c.close()


def commit_forward(bootstrap: str, topic: str, group_id: str, offsets: dict[int, int]) -> None:
    """Commit ``offsets`` for ``group_id`` where they are ahead of its commit (never moves it back).

    A bounded Flink job commits its source offsets when a checkpoint completes, asynchronously; when the
    job finishes right after its last checkpoint the final commit can be lost, and a second bounded run of
    the same group would read those records again. Whoever knows the job read through ``offsets`` (it
    finished, and they were the topic's end before it started) makes that durable with this."""
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as Partition

    now = group_positions(bootstrap, topic, group_id)
    ahead = {p: off for p, off in offsets.items() if off > now.get(p, 0)}
    if not ahead:
        return
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        c.commit(offsets=[Partition(topic, p, off) for p, off in sorted(ahead.items())], asynchronous=False)
    finally:
        c.close()


@contextmanager
def bounded_read(bootstrap: str, group_id: str, topics: Iterable[str]) -> Iterator[None]:
    """Around a bounded run that reads ``topics`` as ``group_id`` and returns once the job has finished:
    the topics' ends are taken before the block, and when it completes without an error the group is
    committed through them (:func:`commit_forward`), so the next bounded run of the group starts where
    this one ended even if Flink's own last offset commit was lost. A failed run commits nothing."""
    from kafka.errors import KafkaError

    try:
        through = {topic: end_offsets(bootstrap, topic) for topic in topics}
    except KafkaError as exc:
        raise StackError(f"cannot read the end offsets of {', '.join(topics)} at Kafka {bootstrap}: {exc}") from exc
    yield
    for topic, offsets in through.items():
        commit_forward(bootstrap, topic, group_id, offsets)


def read_to_end(bootstrap: str, topic: str, start: dict[int, int] | None = None,
                timeout_s: float = 300.0) -> Iterator:
    """Yield every committed record from ``start`` (default: the beginning) up to the current end."""
    c = _consumer(bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
        ends = c.end_offsets(parts)
        c.assign(parts)
        for tp in parts:
            if start and tp.partition in start:
                c.seek(tp, start[tp.partition])
            else:
                c.seek_to_beginning(tp)
        pending = {tp for tp in parts if c.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: did not reach the end offsets within {timeout_s:.0f}s")
            for records in c.poll(timeout_ms=500, max_records=50_000).values():
                yield from records
            pending = {tp for tp in pending if c.position(tp) < ends[tp]}
    finally:
        c.close()


def count_committed(bootstrap: str, topic: str, start: dict[int, int] | None = None) -> int:
    return sum(1 for _ in read_to_end(bootstrap, topic, start))
