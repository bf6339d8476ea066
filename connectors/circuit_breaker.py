"""A circuit breaker: after repeated failures stop calling a provider for a while, then probe it once."""
from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """``failure_threshold`` consecutive failures open the circuit for ``reset_timeout`` seconds.

    While open, ``allow()`` is False (the service fails over instead of hammering the provider). After
    the timeout one probe is allowed (half-open): success closes the circuit, failure opens it again.
    """

    def __init__(self, failure_threshold: int = 3, reset_timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("need failure_threshold >= 1 and reset_timeout > 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return CLOSED
        if self.probing or self.clock() - self.opened_at >= self.reset_timeout:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """May a call be made now? In half-open state only one probe at a time is allowed."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def seconds_until_probe(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self.clock() - self.opened_at))

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def record_failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
        self.probing = False
