"""Running blocking plugin code (database queries, file I/O) in the reactor's thread pool."""

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

P = ParamSpec("P")
R = TypeVar("R")


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
        from twisted.internet import threads

        return threads.deferToThread(func, *args, **kwargs)

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
