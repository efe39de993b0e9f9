"""Running plugin coroutines that mix asyncio and Twisted awaitables.

When the service runs Twisted on its asyncio reactor (the default; see
``twisted.reactor`` in the configuration), :func:`run_coroutine` runs a coroutine as a real
asyncio Task (once the loop runs, on its thread), so ``asyncio.sleep``,
``asyncio.create_task``, ``asyncio.timeout`` and aiohttp all work inside it, while
``await someDeferred`` keeps working too: each Deferred the coroutine waits on is handed
to the asyncio loop as a future. On another reactor the coroutine is driven by Twisted
(``Deferred.fromCoroutine``) as before, and only Twisted awaitables may be used.

The platform runs every plugin lifecycle coroutine, event handler and background route
handler through :func:`run_coroutine`; plugin code may call it too.
"""

import asyncio
import inspect
import sys
import types
from collections.abc import Coroutine, Generator
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure


def asyncio_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The asyncio loop the installed reactor is built on; None for other reactors, and
    when no reactor is installed yet (this never installs one: the worker must not have
    one before its pool forks)."""
    if "twisted.internet.reactor" not in sys.modules:
        return None
    from twisted.internet import reactor

    loop = getattr(reactor, "_asyncioEventloop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Deferred[Any]:
    """Run ``coroutine`` and return a Deferred of its result (see the module docstring).

    Cancelling the returned Deferred cancels the asyncio Task (which raises
    ``CancelledError`` inside the coroutine).
    """
    loop = asyncio_loop()
    if loop is None or not _running_here(loop):
        # Another reactor, or code run before the loop runs or on another thread (the
        # worker drives its plugin host without a running reactor): Twisted drives it.
        return Deferred.fromCoroutine(coroutine)
    task = loop.create_task(_bridged(coroutine, loop))
    return Deferred.fromFuture(task)


def _running_here(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def as_deferred(value: Any) -> Deferred[Any]:
    """A Deferred of a plugin call's result: a plain value, a Deferred or a coroutine."""
    if isinstance(value, Deferred):
        return value
    if inspect.iscoroutine(value):
        return run_coroutine(value)
    if inspect.isawaitable(value):
        return run_coroutine(_await(value))
    if isinstance(value, Failure):
        d: Deferred[Any] = Deferred()
        d.errback(value)
        return d
    return _succeeded(value)


def _succeeded(value: Any) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.callback(value)
    return d


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _bridged(
    coroutine: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop
) -> Any:
    return await _drive(coroutine, loop)


@types.coroutine
def _drive(
    coroutine: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop
) -> Generator[Any, Any, Any]:
    """Step ``coroutine`` inside an asyncio Task, turning each Deferred it yields into a
    future the Task can wait on; asyncio futures pass straight through to the Task."""
    send_value: Any = None
    to_throw: Optional[BaseException] = None
    while True:
        try:
            if to_throw is not None:
                yielded = coroutine.throw(to_throw)
            else:
                yielded = coroutine.send(send_value)
        except StopIteration as stop:
            return stop.value
        send_value, to_throw = None, None
        if isinstance(yielded, Deferred):
            waiter = loop.create_future()

            def wake(result: Any, waiter: asyncio.Future[Any] = waiter) -> Any:
                if not waiter.done():
                    waiter.set_result(None)
                # The Deferred keeps its result: the coroutine's own ``await`` reads it.
                return result

            yielded.addBoth(wake)
            try:
                yield from waiter
            except asyncio.CancelledError as e:
                yielded.cancel()
                to_throw = e
        else:
            try:
                send_value = yield yielded
            except BaseException as e:  # CancelledError and throw() reach the coroutine
                to_throw = e
