"""Running blocking plugin code (database queries, file I/O) in the reactor's thread pool,
and handing calls made on other threads back to the reactor thread."""

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional, ParamSpec, TypeVar

from twisted.internet.defer import Deferred
from twisted.python import threadable
from twisted.python.failure import Failure

from peek_vortex.errors import RoutingError

P = ParamSpec("P")
R = TypeVar("R")


#: When set, :func:`deferToThreadWrap` calls this instead of starting a thread: the test
#: harness runs blocking work inline (``maybeDeferred``) so a test needs no running reactor.
inline_runner: Optional[Callable[..., "Deferred[Any]"]] = None


@contextmanager
def running_threads_inline() -> Iterator[None]:
    """Run ``deferToThreadWrap`` work and threaded RPCs inline (``maybeDeferred``) inside
    the block, so a test needs no running reactor and no thread pool."""
    global inline_runner
    from twisted.internet.defer import maybeDeferred

    previous, inline_runner = inline_runner, maybeDeferred
    try:
        yield
    finally:
        inline_runner = previous


def run_in_thread(func: Callable[..., R], *args: Any, **kwargs: Any) -> "Deferred[R]":
    """Run ``func`` in the reactor's thread pool (inline under the test harness)."""
    if inline_runner is not None:
        return inline_runner(func, *args, **kwargs)
    from twisted.internet import threads

    return threads.deferToThread(func, *args, **kwargs)


def deferToThreadWrap(func: Callable[P, R]) -> Callable[P, "Deferred[R]"]:
    """Decorate a blocking function so calling it runs it in a thread, returning a Deferred.

    Call the decorated function from the reactor thread; the result (or the exception)
    arrives on the reactor thread through the Deferred. Works on functions and methods::

        class StringIntTupleProvider(TuplesProviderABC):
            @deferToThreadWrap
            def makeVortexMsg(self, filt, tupleSelector):
                with self._sessionCreator() as session:
                    return Payload(filt, session.query(StringIntTuple).all()).toVortexMsg()

    Use it for work that blocks; small pure-Python work is cheaper on the reactor thread
    than the two thread hand-overs a call costs.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> "Deferred[R]":
        return run_in_thread(func, *args, **kwargs)

    return wrapper


def deferToThreadWrapWithLogger(
    logger: logging.Logger,
) -> Callable[[Callable[P, R]], Callable[P, "Deferred[R]"]]:
    """Like :func:`deferToThreadWrap`, and also logs a failure (with traceback) to ``logger``.

    The failure still reaches the caller's Deferred.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, "Deferred[R]"]:
        threaded = deferToThreadWrap(func)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> "Deferred[R]":
            def log(failure: Failure) -> Failure:
                logger.error(
                    "%s failed: %s",
                    func.__qualname__,
                    failure.getErrorMessage(),
                    exc_info=(failure.type, failure.value, failure.getTracebackObject()),
                )
                return failure

            deferred: Deferred[Any] = threaded(*args, **kwargs)
            return deferred.addErrback(log)

        return wrapper

    return decorate


_MAIN_THREAD_ID = threading.main_thread().ident


def on_reactor_thread() -> bool:
    """True on the reactor thread; before a reactor has run, on the main thread (where the
    services run it, and where Clock-driven unit tests drive the bus). Costs one
    ``get_ident`` call: it guards every send."""
    io_thread = threadable.ioThread
    return threading.get_ident() == (_MAIN_THREAD_ID if io_thread is None else io_thread)


def hand_to_reactor_thread(func: Callable[..., Any], *args: Any) -> None:
    """Queue ``func(*args)`` for the reactor thread, which wakes at once (for callers that
    found themselves on another thread; an exception it raises is logged there)."""
    from twisted.internet import reactor

    reactor.callFromThread(func, *args)  # type: ignore[attr-defined]


def require_reactor_thread(what: str) -> None:
    """Raise RoutingError naming ``what`` when called off the reactor thread."""
    if not on_reactor_thread():
        raise RoutingError(
            f"{what} must be called on the reactor thread, not from thread "
            f"{threading.current_thread().name!r}; from a worker thread use "
            "twisted.internet.threads.blockingCallFromThread(reactor, ...) or "
            "reactor.callFromThread(...)"
        )
