"""A stop signal cannot deadlock a service: its handler only hands the stop to the reactor
thread, and the admin log tail may be re-entered from a signal handler on the thread that
is already logging (the cause of services that sometimes ignored SIGTERM)."""

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet.error import ReactorNotRunning

from peek_platform.admin_state.reporter import LogTail
from peek_platform.service.runner import install_stop_signal_handlers


class _Reactor:
    """Records what the signal handler asks of the reactor; ``stop`` as a running one."""

    def __init__(self) -> None:
        self.handed: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.stops = 0

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:  # noqa: N802
        self.handed.append((f, args))

    def stop(self) -> None:
        self.stops += 1
        if self.stops > 1:
            raise ReactorNotRunning()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_handler_only_hands_the_stop_to_the_reactor_thread(
        sig: signal.Signals, restore_signals: None, records: _Records) -> None:
    """The installed handler logs nothing and stops nothing itself: it queues one call for
    the reactor thread, which logs the signal's name and stops the reactor once (a second
    signal during the shutdown is not an error)."""
    reactor = _Reactor()
    install_stop_signal_handlers(reactor)
    handler = signal.getsignal(sig)
    assert callable(handler)
    handler(sig, None)
    assert records.messages == [] and reactor.stops == 0
    assert len(reactor.handed) == 1
    stop_for, args = reactor.handed[0]
    stop_for(*args)
    assert records.messages == [f"Received {sig.name}, shutting down"]
    assert reactor.stops == 1
    handler(sig, None)
    stop_for, args = reactor.handed[1]
    stop_for(*args)  # the reactor is already stopping: no exception
    assert reactor.stops == 2


def test_log_tail_can_be_reentered_on_the_logging_thread() -> None:
    """A record logged while the tail is storing another on the same thread (what a signal
    handler that logs does) is stored too, instead of waiting forever for the tail's own
    lock."""
    nested = logging.LogRecord("peek.nested", logging.INFO, __file__, 1, "nested", None, None)
    entered: list[str] = []

    def plugin_of(name: str) -> str:
        # Called while the tail holds its lock: re-enter it once, as a signal handler would.
        if not entered:
            entered.append(name)
            tail.emit(nested)
        return ""

    tail = LogTail("server@test", plugin_of, 10)
    outer = logging.LogRecord("peek.outer", logging.INFO, __file__, 1, "outer", None, None)
    worker = threading.Thread(target=tail.emit, args=(outer,), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "the log tail deadlocked on its own lock"
    assert sorted(line.message for line in tail.since(0)) == ["nested", "outer"]
