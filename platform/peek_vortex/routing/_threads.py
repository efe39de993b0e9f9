"""Running blocking plugin code (database queries, file I/O) in the reactor's thread pool,
and handing calls made on other threads back to the reactor thread."""

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional, ParamSpec, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

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
