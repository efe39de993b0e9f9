"""Running blocking plugin code (database queries, file I/O) in the reactor's thread pool."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool

T = TypeVar("T")


def deferToThreadWrap(func: Callable[..., T]) -> Callable[..., "Deferred[T]"]:
    """Decorator: calling ``func`` runs it in the reactor's thread pool and returns a Deferred.

    The Deferred fires on the reactor thread with the return value, or fails with the
    exception raised. Works on functions and methods alike::

        class StringIntTupleProvider(TuplesProviderABC):
            @deferToThreadWrap
            def makeVortexMsg(self, filt, tupleSelector):
                with self._sessionCreator() as session:
                    return Payload(filt, session.query(StringIntTuple).all()).toVortexMsg()

    Use it for work that blocks; small pure-Python work is cheaper on the reactor thread
    than the two thread hand-overs a call costs.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> "Deferred[T]":
        from twisted.internet import reactor

        return deferToThreadPool(
            reactor, reactor.getThreadPool(), func, *args, **kwargs  # type: ignore[attr-defined]
        )

    return wrapper
