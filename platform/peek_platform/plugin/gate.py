"""Which plugins are between stop and start, and the HTTP requests still running in each.

While the host reloads (or enables/disables) a plugin it *closes* the plugin's gate: the
HTTP sites answer requests under ``/<pluginName>/`` with 503 and a reason instead of a
404 that looks like a missing page, and the bus answers requests to the plugin's endpoint
keys with a ``PluginReloadingError`` reply instead of ``NoEndpointError``
(:meth:`peek_vortex.routing.PayloadRouter.hold_endpoints`). Before the plugin is
stopped the host waits (bounded) for the HTTP requests already inside it to finish, so a
reload drains them rather than cutting them off.
"""

import logging
from collections import Counter
from typing import Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

logger = logging.getLogger(__name__)


class PluginGate:
    """Closed plugins (with the reason callers are told) and per-plugin in-flight counts."""

    def __init__(self) -> None:
        self._closed: dict[str, str] = {}
        self._in_flight: Counter[str] = Counter()
        self._idle_waiters: dict[str, list[Deferred[None]]] = {}

    # ---- closing

    def close(self, name: str, reason: str) -> None:
        """Answer new requests for ``name`` with ``reason`` until :meth:`open`."""
        self._closed[name] = reason

    def open(self, name: str) -> None:
        """Let requests through to ``name`` again (safe when it is not closed)."""
        self._closed.pop(name, None)

    def closed_reason(self, name: str) -> Optional[str]:
        """Why ``name`` is not taking requests now, or None when it is open."""
        return self._closed.get(name)

    # ---- in-flight requests

    def enter(self, name: str) -> None:
        """A request has gone into plugin ``name``."""
        self._in_flight[name] += 1

    def leave(self, name: str) -> None:
        """A request into plugin ``name`` has finished (answered or its client gone)."""
        self._in_flight[name] -= 1
        if self._in_flight[name] <= 0:
            del self._in_flight[name]
            for waiter in self._idle_waiters.pop(name, []):
                waiter.callback(None)

    def in_flight(self, name: str) -> int:
        """How many requests are inside plugin ``name`` now."""
        return self._in_flight[name]

    async def drain(self, name: str, timeout: float, clock: Optional[IReactorTime]) -> int:
        """Wait until no request is inside ``name`` or ``timeout`` passes.

        Returns how many requests were still running when the wait gave up (0: drained).
        Without a clock (the worker runs its host without a reactor) nothing can be
        running, and it returns at once.
        """
        if not self._in_flight[name] or clock is None:
            return self._in_flight[name]
        waiter: Deferred[None] = Deferred()
        self._idle_waiters.setdefault(name, []).append(waiter)
        waiter.addTimeout(timeout, clock)
        try:
            await waiter
        except Exception:
            # Timed out: the caller logs how many it is cutting off.
            waiters = self._idle_waiters.get(name, [])
            if waiter in waiters:
                waiters.remove(waiter)
        return self._in_flight[name]
