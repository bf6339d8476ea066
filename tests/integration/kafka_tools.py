"""Test helpers for Kafka: empty a set of topics, publish payloads and learn where each one landed."""
from __future__ import annotations

import time

from confluent_kafka import Producer
from kafka.admin import KafkaAdminClient

from tickflow.topics import ensure_topics, load_registry


def reset_topics(bootstrap: str, names: list[str], timeout_s: float = 60) -> None:
    """Delete the topics and create them again from the registry, waiting for each step to finish."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            admin.delete_topics(doomed)
        deadline = time.monotonic() + timeout_s
        while set(admin.list_topics()) & set(doomed):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics {doomed} were not deleted within {timeout_s}s")
            time.sleep(0.2)
    finally:
        admin.close()
    specs = load_registry()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ensure_topics(bootstrap, {n: specs[n] for n in names})
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def publish(bootstrap: str, messages: list[tuple], rate: float | None = None) -> list[tuple[str, int, int]]:
    """Send (topic, key, value[, partition]) in order, idempotently; returns (topic, partition, offset) for
    each. Without a partition the key's hash chooses, as for any producer. ``rate``: messages per second, as
    a live feed sends them (default: as fast as possible)."""
    where: list[tuple[str, int, int] | None] = [None] * len(messages)
    errors: list[str] = []

    def delivered(i):
        def cb(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                where[i] = (msg.topic(), msg.partition(), msg.offset())
        return cb

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    start = time.monotonic()
    for i, (topic, key, value, *partition) in enumerate(messages):
        if rate:
            ahead = start + i / rate - time.monotonic()
            if ahead > 0:
                p.poll(ahead)
        where_to = {"partition": partition[0]} if partition else {}
        while True:
            try:
                p.produce(topic, value=value, key=key, on_delivery=delivered(i), **where_to)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    assert p.flush(60) == 0, "messages still queued after 60s"
    assert not errors, errors[:3]
    return where  # type: ignore[return-value]


def last_records(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset of the last committed record of ``topic`` (a transaction's commit marker
    may follow it: it is not a record). Read once nothing more will be written to the topic."""
    from tickflow.runtime.kafka_reading import read_to_end

    last: dict[int, int] = {}
    for r in read_to_end(bootstrap, topic):
        last[r.partition] = r.offset
    return last


def committed_past(bootstrap: str, group: str, topic: str, last: dict[int, int]) -> bool:
    """True when ``group`` has committed beyond ``last`` (:func:`last_records`) on every partition."""
    from kafka import TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return all(TopicPartition(topic, p) in committed and committed[TopicPartition(topic, p)].offset > off
               for p, off in last.items())


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """The sum over ``topic``'s partitions of ``group``'s committed offsets (0 before its first commit)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return sum(o.offset for tp, o in committed.items() if tp.topic == topic and o.offset > 0)


def open_transactions(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    """Partitions of ``topic`` whose last stable offset trails the log end: a transaction is still open
    there, and ``read_committed`` readers see nothing after its first record until it ends. Maps the
    partition to (last stable offset, log end offset)."""
    from kafka import KafkaConsumer, TopicPartition

    ends = {}
    for isolation in ("read_committed", "read_uncommitted"):
        c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False)
        try:
            parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
            ends[isolation] = {tp.partition: off for tp, off in c.end_offsets(parts).items()}
        finally:
            c.close()
    return {p: (stable, ends["read_uncommitted"][p]) for p, stable in ends["read_committed"].items()
            if stable < ends["read_uncommitted"][p]}
