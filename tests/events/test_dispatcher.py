"""The event dispatcher: ordered bounded batches, isolation of slow and failing handlers."""

import logging
from typing import Any

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from peek_platform.events.dispatcher import EventDispatcher


def run_all(clock: Clock) -> None:
    """Run every delivery the dispatcher scheduled (they are all ``callLater(0)``)."""
    for _ in range(1000):
        if not clock.getDelayedCalls():
            return
        clock.advance(0)
    raise AssertionError("deliveries kept rescheduling")


class Recorder:
    """A Deferred-returning handler that records its batches; ``hold`` keeps them pending."""

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[list[Any]] = []
        self.pending: list[Deferred[None]] = []
        self.hold = hold

    async def __call__(self, batch: list[Any]) -> None:
        self.batches.append(batch)
        if self.hold:
            d: Deferred[None] = Deferred()
            self.pending.append(d)
            await d

    @property
    def events(self) -> list[Any]:
        return [e for b in self.batches for e in b]


def test_events_arrive_in_order_in_bounded_batches() -> None:
    """Events emitted before a delivery arrive together, in order, at most maxBatch at a time."""
    clock = Clock()
    dispatcher = EventDispatcher(clock)
    rec = Recorder()
    dispatcher.subscribe("e", rec, max_batch=3)
    for i in range(7):
        dispatcher.emit("e", i)
    assert rec.batches == []  # emit never runs a handler itself
    run_all(clock)
    assert rec.batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_only_subscribers_of_the_name_get_the_event() -> None:
    """An event goes only to subscriptions of its name; without any, emit does nothing."""
    clock = Clock()
    dispatcher = EventDispatcher(clock)
    a, b = Recorder(), Recorder()
    dispatcher.subscribe("a", a)
    dispatcher.subscribe("b", b)
    dispatcher.emit("a", 1)
    dispatcher.emit("nobody", 2)
    run_all(clock)
    assert (a.events, b.events) == ([1], [])
    assert not dispatcher.has_subscribers("nobody")


def test_slow_handler_does_not_delay_or_lose_another_handlers_events(
        caplog: pytest.LogCaptureFixture) -> None:
    """While one handler's batch never finishes, another subscriber gets every event; the
    slow one's queue overflows: drops are counted and logged once."""
    clock = Clock()
    dispatcher = EventDispatcher(clock)
    slow, fast = Recorder(hold=True), Recorder()
    slow_sub = dispatcher.subscribe("e", slow, owner="plugin slowpoke", max_batch=1,
                                    max_queue=4)
    dispatcher.subscribe("e", fast, max_queue=100)
    with caplog.at_level(logging.WARNING):
        for i in range(50):
            dispatcher.emit("e", i)
            run_all(clock)
    assert fast.events == list(range(50))
    assert slow.events == [0]  # its first batch is still running
    assert len(slow_sub.queue) == 4 and slow_sub.dropped == 45
    full = [r for r in caplog.records if "is full" in r.getMessage()]
    assert len(full) == 1 and "plugin slowpoke" in full[0].getMessage()
    # Once the handler returns, the queued events follow, in order.
    slow.hold = False
    slow.pending[0].callback(None)
    run_all(clock)
    assert slow.events == [0, 1, 2, 3, 4]


def test_failing_handler_is_logged_and_keeps_receiving(caplog: pytest.LogCaptureFixture) -> None:
    """A handler that raises loses that batch only: it gets later events, others get all."""
    clock = Clock()
    dispatcher = EventDispatcher(clock)
    seen: list[list[int]] = []

    async def failing(batch: list[int]) -> None:
        seen.append(batch)
        raise RuntimeError("handler broke")

    other = Recorder()
    sub = dispatcher.subscribe("e", failing, owner="plugin broken")
    dispatcher.subscribe("e", other)
    with caplog.at_level(logging.WARNING):
        dispatcher.emit("e", 1)
        run_all(clock)
        dispatcher.emit("e", 2)
        run_all(clock)
    assert seen == [[1], [2]] and other.events == [1, 2]
    assert sub.failed_batches == 2
    assert any("plugin broken" in r.getMessage() and "handler broke" in r.getMessage()
               for r in caplog.records)


def test_deferred_returning_handler_on_the_reactor_thread() -> None:
    """``in_thread=False``: a plain function returning a Deferred is waited for."""
    clock = Clock()
    dispatcher = EventDispatcher(clock)
    got: list[list[int]] = []

    def handler(batch: list[int]) -> Deferred[None]:
        got.append(batch)
        return succeed(None)

    dispatcher.subscribe("e", handler, in_thread=False)
    dispatcher.emit("e", 1)
    run_all(clock)
    assert got == [[1]]


def test_cancel_stops_delivery_and_discards_the_queue() -> None:
    """After cancel, queued and new events are not delivered; cancelling twice is harmless."""
    clock = Clock()
    dispatcher = EventDispatcher(clock)
    rec = Recorder()
    sub = dispatcher.subscribe("e", rec)
    dispatcher.emit("e", 1)
    sub.cancel()
    sub.cancel()
    dispatcher.emit("e", 2)
    run_all(clock)
    assert rec.events == [] and not dispatcher.has_subscribers("e")


def test_bad_subscriptions_are_refused_with_the_reason() -> None:
    """An empty event name, a handler that is not callable or a zero queue is refused."""
    dispatcher = EventDispatcher(Clock())
    with pytest.raises(ValueError, match="non-empty string"):
        dispatcher.subscribe("", Recorder())
    with pytest.raises(TypeError, match="must be callable"):
        dispatcher.subscribe("e", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maxQueue"):
        dispatcher.subscribe("e", Recorder(), max_queue=0)
