"""The in-process event dispatcher: per-subscriber bounded queues, delivered in batches.

``emit`` only appends to each matching subscription's queue and, when that subscription
is idle, schedules one delivery on the reactor; it never runs a handler itself, never
raises, and costs O(subscribers of that name). A subscription hands at most ``max_batch``
events to its handler at a time and waits for that call to finish before the next batch,
so one slow handler only grows its own queue. A full queue drops the new event: the drop
is counted (:attr:`Subscription.dropped`) and logged once per subscription (with the
plugin's name). A handler that raises (or whose Deferred fails) is logged, its batch is
gone, and it receives the following events as usual.
"""

import inspect
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from peek_vortex import LogThrottle, as_deferred

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 100
DEFAULT_MAX_QUEUE = 10000

#: A failing handler is logged with its traceback once, then counted (it may fail per batch).
_handler_failures = LogThrottle(logger)


class Subscription:
    """One handler's interest in one event name, with its own queue."""

    def __init__(
        self,
        dispatcher: "EventDispatcher",
        event_name: str,
        handler: Callable[[list[Any]], Any],
        owner: str,
        max_batch: int,
        max_queue: int,
        in_thread: Optional[bool] = None,
    ) -> None:
        if max_batch < 1 or max_queue < 1:
            raise ValueError(f"maxBatch and maxQueue must be >= 1, got {max_batch}, {max_queue}")
        self.dispatcher = dispatcher
        self.event_name = event_name
        self.handler = handler
        self.owner = owner
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.queue: deque[Any] = deque()
        #: Events dropped because the queue was full.
        self.dropped = 0
        #: Batches whose handler call failed.
        self.failed_batches = 0
        #: Events handed to the handler (failed batches included).
        self.delivered = 0
        self.active = True
        self._busy = False
        if in_thread is None:
            # Coroutine functions run on the loop; plain functions may block: a thread.
            in_thread = not (
                inspect.iscoroutinefunction(handler)
                or inspect.iscoroutinefunction(getattr(handler, "__call__", None))  # noqa: B004
            )
        self._run_in_thread = in_thread

    def cancel(self) -> None:
        """Stop delivering; queued events are discarded. Safe to call more than once."""
        if not self.active:
            return
        self.active = False
        self.queue.clear()
        self.dispatcher._remove(self)
        if self.dropped:
            logger.info("Event subscription of %s to %s ended; %d event(s) were dropped "
                        "because its queue was full", self.owner, self.event_name,
                        self.dropped)

    # ---- called by the dispatcher, on the reactor thread

    def offer(self, event: Any) -> None:
        if len(self.queue) >= self.max_queue:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning(
                    "Event queue of %s for %s is full (%d events): new events are dropped "
                    "until its handler catches up; this is logged once, the count is "
                    "kept", self.owner, self.event_name, self.max_queue)
            return
        self.queue.append(event)
        if not self._busy:
            self._busy = True
            self.dispatcher._schedule(self._deliver)

    def _deliver(self) -> None:
        if not self.active or not self.queue:
            self._busy = False
            return
        count = min(self.max_batch, len(self.queue))
        batch = [self.queue.popleft() for _ in range(count)]
        self.delivered += count
        try:
            if self._run_in_thread:
                from twisted.internet import threads

                result: Deferred[Any] = threads.deferToThread(self.handler, batch)
            else:
                result = as_deferred(self.handler(batch))
        except Exception:
            self._failed(Failure())
            self._next()
            return
        result.addErrback(self._failed)
        result.addBoth(lambda _: self._next())

    def _failed(self, failure: Failure) -> None:
        self.failed_batches += 1
        _handler_failures.log(
            (self.owner, self.event_name),
            f"event handler of {self.owner} for {self.event_name} failed",
            "Event handler of %s for %s failed on a batch; later events are still "
            "delivered:\n%s", self.owner, self.event_name, failure.getTraceback(),
        )

    def _next(self) -> None:
        if self.active and self.queue:
            self.dispatcher._schedule(self._deliver)
        else:
            self._busy = False


class EventDispatcher:
    """Subscriptions by event name; :meth:`emit` queues an event for each of them."""

    def __init__(
        self,
        clock: Optional[IReactorTime] = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        self._clock = clock
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._subscriptions: dict[str, list[Subscription]] = {}

    def configure(self, max_batch: int, max_queue: int) -> None:
        """Set the defaults for later subscriptions (from config.json)."""
        self.max_batch = max_batch
        self.max_queue = max_queue

    def subscribe(
        self,
        event_name: str,
        handler: Callable[[list[Any]], Any],
        owner: str = "platform",
        max_batch: Optional[int] = None,
        max_queue: Optional[int] = None,
        in_thread: Optional[bool] = None,
    ) -> Subscription:
        """Deliver events named ``event_name`` to ``handler`` in batches (lists).

        ``in_thread``: run ``handler`` in the reactor's thread pool; by default coroutine
        functions run on the reactor (as asyncio Tasks on the asyncio reactor) and plain
        functions in a thread. A handler on the reactor may return a Deferred.
        """
        if not isinstance(event_name, str) or not event_name:
            raise ValueError(f"an event name must be a non-empty string, got {event_name!r}")
        if not callable(handler):
            raise TypeError(f"the handler for {event_name} must be callable, got {handler!r}")
        subscription = Subscription(
            self, event_name, handler, owner,
            self.max_batch if max_batch is None else max_batch,
            self.max_queue if max_queue is None else max_queue,
            in_thread,
        )
        self._subscriptions.setdefault(event_name, []).append(subscription)
        return subscription

    def has_subscribers(self, event_name: str) -> bool:
        """Whether anyone listens to ``event_name`` (lets sources skip building events)."""
        return bool(self._subscriptions.get(event_name))

    def subscriptions(self, event_name: str) -> list[Subscription]:
        """The active subscriptions to ``event_name``."""
        return list(self._subscriptions.get(event_name, ()))

    def emit(self, event_name: str, event: Any) -> None:
        """Queue ``event`` for every subscription to ``event_name``; never raises.

        Safe from any thread: from another thread the event is handed to the reactor.
        """
        subscriptions = self._subscriptions.get(event_name)
        if not subscriptions:
            return
        if threading.current_thread() is not threading.main_thread() and not _in_io_thread():
            self._reactor().callFromThread(self.emit, event_name, event)
            return
        for subscription in list(subscriptions):
            subscription.offer(event)

    # ---- internals

    def _reactor(self) -> Any:
        if self._clock is not None:
            return self._clock
        from twisted.internet import reactor

        return reactor

    def _schedule(self, call: Callable[[], None]) -> None:
        self._reactor().callLater(0, call)

    def _remove(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.event_name, [])
        if subscription in subscriptions:
            subscriptions.remove(subscription)
        if not subscriptions:
            self._subscriptions.pop(subscription.event_name, None)


def _in_io_thread() -> bool:
    from twisted.python import threadable

    return bool(threadable.isInIOThread())


_default: Optional[EventDispatcher] = None


def default_dispatcher() -> EventDispatcher:
    """The process's dispatcher (the one the platform's event sources emit to)."""
    global _default
    if _default is None:
        _default = EventDispatcher()
    return _default
