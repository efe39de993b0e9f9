"""Per-address throttling of wrong tokens: a few tries, then ever longer refusals."""

from dataclasses import dataclass
from typing import Optional

from twisted.internet.interfaces import IReactorTime

from peek_vortex.errors import VortexHelloRefusedError
from peek_vortex.wire._hello import CloseCode

#: Tracked addresses above which quiet ones are forgotten on the next failure.
_PRUNE_ABOVE = 10_000


@dataclass
class _Address:
    failures: int = 0
    block_seconds: float = 0.0
    blocked_until: float = 0.0
    last_failure: float = 0.0


class WrongTokenThrottle:
    """Counts wrong tokens per source address and refuses addresses that keep guessing.

    Wrong tokens are refused as usual (4401); the ``attempts``-th one from an address
    also blocks it: its hellos are refused with ``CloseCode.TOO_MANY_ATTEMPTS`` (4429),
    whatever they carry, for ``first_block`` seconds. Every further wrong token (after a
    block ends) blocks it again for twice as long, up to ``max_block``. A right token
    (outside a block) clears the address; an address quiet for ``max_block`` after its
    last wrong token is forgotten.
    """

    def __init__(
        self, attempts: int, first_block: float, max_block: float, clock: IReactorTime
    ) -> None:
        self.attempts = attempts
        self.first_block = first_block
        self.max_block = max(first_block, max_block)
        self._clock = clock
        self._addresses: dict[str, _Address] = {}

    def blocked_for(self, host: str) -> float:
        """Seconds ``host`` stays blocked (0: not blocked). The admin login's throttle keys
        by account name as well as by address."""
        state = self._addresses.get(host)
        if state is None:
            return 0.0
        return max(0.0, state.blocked_until - self._clock.seconds())

    def refusal(self, host: str) -> Optional[VortexHelloRefusedError]:
        """The error to refuse a hello from ``host`` with while it is blocked, else None."""
        left = self.blocked_for(host)
        if left <= 0:
            return None
        return VortexHelloRefusedError(
            CloseCode.TOO_MANY_ATTEMPTS,
            f"too many wrong tokens from {host}; try again in {left:.0f}s")

    def failed(self, host: str) -> float:
        """Record a wrong token from ``host``; the seconds it is now blocked for (0: not)."""
        now = self._clock.seconds()
        state = self._addresses.get(host)
        if state is None or now - state.last_failure > self.max_block + state.block_seconds:
            if len(self._addresses) >= _PRUNE_ABOVE:
                self._prune(now)
            state = self._addresses[host] = _Address()
        state.failures += 1
        state.last_failure = now
        if state.failures < self.attempts:
            return 0.0
        state.block_seconds = min(self.max_block,
                                  state.block_seconds * 2 if state.block_seconds
                                  else self.first_block)
        state.blocked_until = now + state.block_seconds
        return state.block_seconds

    def failures(self, host: str) -> int:
        """Wrong tokens counted for ``host`` (since it was last cleared or forgotten)."""
        state = self._addresses.get(host)
        return state.failures if state is not None else 0

    def succeeded(self, host: str) -> None:
        """A right token from ``host``: forget its failures."""
        self._addresses.pop(host, None)

    def _prune(self, now: float) -> None:
        quiet = [host for host, state in self._addresses.items()
                 if now - state.last_failure > self.max_block + state.block_seconds]
        for host in quiet:
            del self._addresses[host]
