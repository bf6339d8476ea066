"""Token-bucket rate limits, set from each provider's published quota."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; ``acquire`` waits for a token.

    ``waits`` and ``waited_s`` count how often and how long callers were held back (exported as metrics).
    """

    def __init__(self, rate: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, capacity if capacity is not None else rate)
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()
        self.waits = 0
        self.waited_s = 0.0

    @classmethod
    def per_period(cls, requests: int, seconds: float, **kw) -> TokenBucket:
        """A quota stated as ``requests`` per ``seconds`` (5 per 60 s), bursting up to ``requests``."""
        return cls(requests / seconds, capacity=requests, **kw)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self) -> float:
        """Seconds until a token is free (0 if one is free now). Does not take it."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def try_take(self) -> bool:
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    async def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds waited."""
        waited = 0.0
        while not self.try_take():
            pause = self.delay()
            if waited == 0.0:
                self.waits += 1
            await asyncio.sleep(pause)
            waited += pause
        self.waited_s += waited
        return waited
