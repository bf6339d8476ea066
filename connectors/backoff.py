"""Exponential backoff with full jitter, for reconnects and retried requests."""
from __future__ import annotations

import random


class Backoff:
    """Delays ``base * factor**n`` capped at ``cap``, each drawn uniformly from [0, that] ("full jitter").

    Full jitter keeps many clients that lost the same server from reconnecting in lockstep.
    """

    def __init__(self, base: float = 0.2, cap: float = 30.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base or factor < 1:
            raise ValueError("need 0 < base <= cap and factor >= 1")
        self.base, self.cap, self.factor = base, cap, factor
        self.rng = rng or random.Random()
        self.attempt = 0

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return min(self.cap, self.base * self.factor ** self.attempt)

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
