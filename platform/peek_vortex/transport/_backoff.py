"""Reconnect delays: exponential, capped, and jittered so restarted peers do not stampede."""

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``delay(n)`` for the n-th consecutive failure (0-based).

    The base grows ``initial * factor**n`` up to ``maximum``; the delay is drawn uniformly
    from [base/2, base] ("equal jitter"), so it never exceeds ``maximum`` and many clients
    that lost the same server spread their retries. ``rand`` returns floats in [0, 1);
    pass ``random.Random(seed).random`` for repeatable delays.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    rand: Callable[[], float] = field(default=random.random)

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum or self.factor < 1:
            raise ValueError(f"need 0 < initial <= maximum and factor >= 1, got {self}")

    def base(self, attempt: int) -> float:
        """The un-jittered delay for this attempt."""
        # Bound the exponent so a long outage cannot overflow the float.
        return min(self.maximum, self.initial * self.factor ** min(attempt, 64))

    def delay(self, attempt: int) -> float:
        """The jittered delay before retry number ``attempt``."""
        base = self.base(attempt)
        return base / 2 + (base / 2) * self.rand()
