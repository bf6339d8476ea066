"""Delivery accounting and the publisher's handling of what librdkafka reports, with a fake producer.

The fake stands in for librdkafka only: the publisher's own logic (held records, the undeliverable path,
reachability, closing) runs as in production. Real Kafka: tests/integration/test_connector_delivery.py.
"""
from __future__ import annotations

import json
from collections import deque

import pytest
from confluent_kafka import KafkaError, KafkaException
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import kafka_publisher
from connectors.delivery import DeliveryLedger, DeliveryStatus
from connectors.kafka_publisher import DeliveryOptions, RawPublisher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- the ledger ---------------------------------------------------------------------------------------
def test_ledger_counts_what_is_unsettled_and_how_long_the_oldest_has_waited():
    clock, settled = Clock(), []
    ledger = DeliveryLedger(lambda err, msg: settled.append((err, msg)), clock=clock, width_s=0.25)
    first = [ledger.take() for _ in range(3)]
    clock.now += 2.0
    later = ledger.take()
    clock.now += 1.0
    assert ledger.undelivered == 4 and ledger.oldest_age() == pytest.approx(3.0)
    for cb in first:
        cb(None, "m")
    assert ledger.undelivered == 1 and ledger.oldest_age() == pytest.approx(1.0)
    later("refused", "m")
    assert (ledger.undelivered, ledger.delivered, ledger.failed, ledger.oldest_age()) == (0, 3, 1, 0.0)
    assert settled[-1] == ("refused", "m")
    ledger.take()  # a window emptied and dropped is not reused by later sends
    clock.now += 0.5
    assert ledger.oldest_age() == pytest.approx(0.5)


@settings(max_examples=300, deadline=1000, derandomize=True)
@given(st.lists(st.one_of(st.tuples(st.just("send"), st.floats(0, 2)),
                          st.tuples(st.just("settle"), st.integers(0, 10_000))), max_size=120))
def test_ledger_agrees_with_a_record_by_record_model(steps):
    """Whatever the order of sends and settlements, the counts are exact and the oldest age is the
    model's to within one window."""
    clock = Clock()
    width = 0.25
    ledger = DeliveryLedger(lambda err, msg: None, clock=clock, width_s=width)
    unsettled: list[tuple[float, object]] = []  # (sent at, callback)
    for kind, arg in steps:
        if kind == "send":
            clock.now += arg
            unsettled.append((clock.now, ledger.take()))
        elif unsettled:
            _, cb = unsettled.pop(arg % len(unsettled))
            cb(None, None)
        assert ledger.undelivered == len(unsettled)
        want = clock.now - min(t for t, _ in unsettled) if unsettled else 0.0
        assert want - 1e-9 <= ledger.oldest_age() <= want + width + 1e-9


def test_deliveries_are_stuck_only_with_records_waiting_and_kafka_away_or_slow():
    assert not DeliveryStatus(reachable=False, undelivered=0).stuck(10)
    assert DeliveryStatus(reachable=False, undelivered=1).stuck(10)
    assert DeliveryStatus(undelivered=1, oldest_undelivered_s=11).stuck(10)
    assert not DeliveryStatus(undelivered=1, oldest_undelivered_s=9).stuck(10)


# --- the publisher, over a fake librdkafka -------------------------------------------------------------
class FakeMessage:
    def __init__(self, topic: str, key: bytes | None, value: bytes) -> None:
        self._topic, self._key, self._value = topic, key, value

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return self._value


class FakeProducer:
    """librdkafka as the publisher sees it: a bounded queue, delivery reports served by ``poll``."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.limit = 5
        self.queue: deque[tuple[FakeMessage, object]] = deque()
        self.reports: deque[tuple[object, FakeMessage, object]] = deque()
        self.log: list[tuple[str, bytes]] = []   # (topic, value) in the order librdkafka took them
        self.refuse_next: KafkaError | None = None
        self.purged = False

    def list_topics(self, timeout: float):
        return {}

    def produce(self, topic, value=None, key=None, on_delivery=None):
        if self.refuse_next is not None:
            err, self.refuse_next = self.refuse_next, None
            raise KafkaException(err)
        if len(self.queue) >= self.limit:
            raise BufferError("Local: Queue full")
        msg = FakeMessage(topic, key, value)
        self.queue.append((msg, on_delivery))
        self.log.append((topic, value))

    def deliver(self, n: int, err: KafkaError | None = None) -> None:
        """Kafka answers the oldest ``n`` queued records (reported at the next poll)."""
        for _ in range(min(n, len(self.queue))):
            msg, cb = self.queue.popleft()
            self.reports.append((err, msg, cb))

    def poll(self, timeout: float = 0) -> int:
        served = 0
        while self.reports:
            err, msg, cb = self.reports.popleft()
            cb(err, msg)
            served += 1
        return served

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self.queue)

    def purge(self) -> None:
        self.purged = True
        self.deliver(len(self.queue), KafkaError(KafkaError._PURGE_QUEUE))

    def stats(self, brokers: dict) -> None:
        self.config["stats_cb"](json.dumps({"brokers": brokers}))

    def error(self, err: KafkaError) -> None:
        self.config["error_cb"](err)


@pytest.fixture
def fake(monkeypatch):
    made: list[FakeProducer] = []

    def new(config):
        made.append(FakeProducer(config))
        return made[-1]

    monkeypatch.setattr(kafka_publisher, "_new_producer", new)

    def publisher(**kw) -> tuple[RawPublisher, FakeProducer]:
        pub = RawPublisher("kafka:9092", component="connector:test", **kw)
        return pub, made[-1]
    return publisher


def test_producer_retries_without_a_time_limit_and_its_queue_sits_above_the_service_bound(fake):
    pub, producer = fake(wait_when_full=False, delivery=DeliveryOptions(max_undelivered=1000))
    c = producer.config
    assert c["message.timeout.ms"] == 0 and c["enable.idempotence"] is True and c["acks"] == "all"
    assert c["queue.buffering.max.messages"] > pub.capacity == 1000
    _, finite = fake(delivery=DeliveryOptions(timeout_s=2.5))
    assert finite.config["message.timeout.ms"] == 2500


def test_a_full_librdkafka_queue_holds_records_in_order_without_blocking(fake):
    pub, producer = fake(wait_when_full=False)
    for i in range(12):
        pub.send("md.raw.trades", b"ES", b"%d" % i)  # returns at once although only 5 fit
    assert len(producer.queue) == 5 and pub.undelivered() == 12
    producer.deliver(5)
    pub.poll()
    assert len(producer.queue) == 5 and pub.status().delivered == 5
    producer.deliver(5)
    pub.poll()
    pub.send("md.raw.trades", b"ES", b"12")
    producer.deliver(5)
    pub.poll()
    producer.deliver(5)
    pub.poll()
    assert [v for _, v in producer.log] == [b"%d" % i for i in range(13)]
    assert pub.status().undelivered == 0 and pub.status().delivered == 13


def test_a_record_kafka_refuses_for_good_is_counted_logged_once_and_dead_lettered_with_its_bytes(fake, caplog):
    pub, producer = fake(wait_when_full=False)
    pub.send("md.raw.trades", b"ES", b'{"price":"1"}')
    pub.send("md.raw.trades", b"ES", b'{"price":"2"}')
    producer.deliver(2, KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with caplog.at_level("ERROR", logger="tickflow.connectors.kafka"):
        pub.poll()
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
    dead = [json.loads(v) for t, v in producer.log if t == "md.dlq"]
    assert [(d["reason"], d["topic"], d["original"], d["component"]) for d in dead] == [
        ("UNDELIVERABLE", "md.raw.trades", '{"price":"1"}', "connector:test"),
        ("UNDELIVERABLE", "md.raw.trades", '{"price":"2"}', "connector:test")]
    assert "TOPIC_AUTHORIZATION_FAILED" in dead[0]["detail"]
    producer.deliver(2)
    pub.poll()
    s = pub.status()
    assert s.failures == {("md.raw.trades", "TOPIC_AUTHORIZATION_FAILED"): 2}
    assert (s.undelivered, s.delivered, s.failed) == (0, 2, 2)


def test_a_dead_letter_that_fails_too_is_counted_and_not_retried(fake):
    pub, producer = fake(wait_when_full=False)
    pub.send("md.raw.trades", b"ES", b"x")
    producer.deliver(1, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    pub.poll()
    producer.deliver(1, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))  # the md.dlq copy
    pub.poll()
    assert pub.status().failures == {("md.raw.trades", "MSG_SIZE_TOO_LARGE"): 1, ("md.dlq", "MSG_SIZE_TOO_LARGE"): 1}
    assert len(producer.log) == 2 and pub.undelivered() == 0


def test_a_record_refused_before_it_is_queued_takes_the_same_path(fake):
    pub, producer = fake(wait_when_full=False)
    producer.refuse_next = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    pub.send("md.raw.trades", b"ES", b"too large")
    assert [t for t, _ in producer.log] == ["md.dlq"]
    assert pub.status().failures == {("md.raw.trades", "MSG_SIZE_TOO_LARGE"): 1}


def test_reachability_follows_librdkafka_and_comes_back_with_a_delivery(fake):
    pub, producer = fake(wait_when_full=False)
    assert pub.status().reachable
    producer.error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
    assert not pub.status().reachable
    producer.stats({"k:9092/bootstrap": {"state": "INIT"}})
    assert not pub.status().reachable
    producer.stats({"k:9092/1": {"state": "UP"}})
    assert pub.status().reachable
    producer.error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
    pub.send("md.raw.trades", b"ES", b"x")
    producer.deliver(1)
    pub.poll()
    assert pub.status().reachable
    producer.config["stats_cb"]("not json")  # ignored
    assert pub.status().reachable


def test_a_fatal_producer_error_is_reported_and_nothing_more_is_dead_lettered(fake):
    pub, producer = fake(wait_when_full=False)
    pub.send("md.raw.trades", b"ES", b"x")
    producer.error(KafkaError(KafkaError._FENCED, fatal=True))
    producer.deliver(1, KafkaError(KafkaError._FENCED, fatal=True))
    pub.poll()
    assert pub.status().fatal and [t for t, _ in producer.log] == ["md.raw.trades"]


def test_close_reports_what_kafka_never_took_and_sends_none_of_it_to_the_dlq(fake):
    pub, producer = fake(wait_when_full=False)
    for i in range(7):
        pub.send("md.raw.trades", b"ES", b"%d" % i)
    producer.deliver(1)
    assert pub.close(timeout=0.01) == 6
    assert producer.purged and not [t for t, _ in producer.log if t == "md.dlq"]
    assert pub.stats.failed == 6 and pub.status().failures == {}


def test_batch_callers_wait_for_room_as_before(fake):
    pub, producer = fake()  # wait_when_full, as the replay uses it
    calls = []

    def poll(timeout=0):
        calls.append(timeout)
        producer.deliver(5)
        return FakeProducer.poll(producer)
    producer.poll = poll
    pub.send_many("md.raw.trades", b"ES", [b"%d" % i for i in range(12)])
    for i in range(12, 20):
        pub.send("md.raw.trades", b"ES", b"%d" % i)
    assert [v for _, v in producer.log] == [b"%d" % i for i in range(20)] and not pub._held


def test_in_batch_mode_a_dead_letter_held_on_a_full_queue_does_not_strand_later_records(fake):
    pub, producer = fake()
    for i in range(5):
        pub.send("md.raw.trades", b"ES", b"%d" % i)
    producer.deliver(1, KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    pub.send("md.raw.trades", b"ES", b"5")  # takes the freed place: the dead letter finds the queue full
    producer.poll()
    assert len(pub._held) == 1

    def poll(timeout=0):
        producer.deliver(5)
        return FakeProducer.poll(producer)
    producer.poll = poll
    pub.send("md.raw.trades", b"ES", b"6")
    assert not pub._held
    assert [t for t, _ in producer.log] == ["md.raw.trades"] * 6 + ["md.dlq", "md.raw.trades"]
