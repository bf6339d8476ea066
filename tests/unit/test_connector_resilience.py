"""The resilience pieces every connector shares: token bucket, backoff, circuit breaker, trade gate."""
from __future__ import annotations

import asyncio
import random

import pytest

from connectors.backoff import Backoff
from connectors.circuit_breaker import CircuitBreaker
from connectors.decimals import decimal_text, fixed_price_text
from connectors.rate_limit import TokenBucket
from connectors.trade_gate import RecentIds, TradeGate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_of_its_quota_then_one_per_interval():
    clock = Clock()
    bucket = TokenBucket.per_period(5, 60, clock=clock)
    assert [bucket.try_take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.delay() == pytest.approx(12.0)
    clock.now = 12.0
    assert bucket.try_take() and not bucket.try_take()


def test_token_bucket_acquire_waits_and_counts_the_wait():
    bucket = TokenBucket(rate=50, capacity=1)
    async def take_three() -> float:
        return sum([await bucket.acquire() for _ in range(3)])
    waited = asyncio.run(take_three())
    assert waited == pytest.approx(0.04, abs=0.02)
    assert bucket.waits == 2


def test_backoff_grows_exponentially_to_its_cap_with_full_jitter_and_resets():
    b = Backoff(base=0.5, cap=4.0, rng=random.Random(7))
    ceilings = []
    for _ in range(6):
        ceilings.append(b.ceiling())
        assert 0 <= b.next_delay() <= ceilings[-1]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.ceiling() == 0.5


def test_circuit_opens_after_consecutive_failures_and_probes_once_after_the_timeout():
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=clock)
    for _ in range(2):
        cb.record_failure()
    assert cb.state == "closed" and cb.allow()
    cb.record_failure()
    assert cb.state == "open" and not cb.allow()
    clock.now = 10.0
    assert cb.state == "half_open" and cb.allow() and not cb.allow()  # one probe at a time
    cb.record_failure()  # the probe failed: open again for a full timeout
    assert cb.state == "open"
    clock.now = 20.0
    assert cb.allow()
    cb.record_success()
    assert cb.state == "closed" and cb.failures == 0


def test_gate_drops_what_a_rejoining_feed_already_published_counting_identical_trades_at_the_boundary():
    gate = TradeGate()
    a, b = ("100", "1"), ("101", "2")
    for ts, c in [(1, a), (2, a), (2, a), (2, b)]:
        assert gate.admit("polygon", "ES", ts, c)
    gate.set_boundary("finnhub", "ES")  # the backup takes over and backfills from ts 2
    replay = [(2, a), (2, a), (2, a), (2, b), (3, a)]
    assert [gate.admit("finnhub", "ES", ts, c) for ts, c in replay] == [False, False, True, False, True]
    assert gate.position("ES").ts == 3


def test_gate_drops_everything_before_the_boundary_and_admits_other_symbols():
    gate = TradeGate()
    gate.admit("p", "ES", 10, ("1", "1"))
    gate.set_boundary("q", "ES")
    assert not gate.admit("q", "ES", 9, ("5", "5"))
    assert gate.admit("q", "NQ", 9, ("5", "5"))


def test_recent_ids_forget_keys_older_than_the_horizon():
    ids = RecentIds(horizon_ns=100)
    assert ids.add(("p", "1"), 1000) and not ids.add(("p", "1"), 1000)
    ids.add(("p", "2"), 1200)
    assert ("p", "1") not in ids and len(ids) == 1


@pytest.mark.parametrize("value,text", [("189.70", "189.7"), ("1E+3", "1000"), ("0.000000001", "0.000000001"),
                                        ("-0.0", "0"), (7, "7")])
def test_decimal_text_is_exact_and_canonical(value, text):
    assert decimal_text(value) == text


@pytest.mark.parametrize("bad", [1.5, "NaN", "abc", "1e10", None, True])
def test_decimal_text_refuses_floats_and_what_the_contract_cannot_carry(bad):
    with pytest.raises(ValueError):
        decimal_text(bad)


def test_fixed_point_prices_become_exact_text():
    assert fixed_price_text(1_640_250_000_000) == "1640.25"


def test_a_task_that_swallows_its_cancellation_is_cancelled_again_until_it_ends():
    """As a provider's pump does on Python 3.11 when asyncio.wait_for swallows the cancellation, then
    blocks on its full queue: stopping the service must not wait for it forever."""
    from connectors.service import cancel_and_wait

    ended = []

    async def stubborn(queue: asyncio.Queue) -> None:
        try:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # swallowed
            await queue.put("one more batch")  # the queue is full and no one reads it
        finally:
            ended.append(True)

    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        queue.put_nowait("full")
        task = asyncio.create_task(stubborn(queue))
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_and_wait(task), 5)
        assert task.cancelled() and ended

        ended.clear()
        queue2: asyncio.Queue = asyncio.Queue(maxsize=1)
        queue2.put_nowait("full")
        child = asyncio.create_task(stubborn(queue2))
        await asyncio.sleep(0)
        parent = asyncio.create_task(cancel_and_wait(child))
        await asyncio.sleep(0)
        parent.cancel()  # the caller is stopped too: the child still ends first
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(parent, 5)
        assert child.done() and ended

    asyncio.run(main())
