"""Running plugin coroutines that mix asyncio and Twisted awaitables.

When the service runs Twisted on its asyncio reactor (``twisted.reactor`` in the
configuration: ``auto``, the default, picks it when an enabled plugin declares
``"asyncio": true`` in its ``plugin_package.json``), :func:`run_coroutine` runs a
coroutine as a real asyncio Task (once the loop runs, on its thread), so ``asyncio.sleep``,
``asyncio.create_task``, ``asyncio.timeout`` and aiohttp all work inside it, while
``await someDeferred`` keeps working too: each Deferred the coroutine waits on is handed
to the asyncio loop as a future. On another reactor the coroutine is driven by Twisted
(``Deferred.fromCoroutine``) as before, and only Twisted awaitables may be used: an asyncio
call there ("no running event loop") fails with :class:`AsyncioReactorError`, naming the
plugin whose code made it and the setting to change.

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

#: Module name prefixes of code that is not a plugin's (skipped when naming the plugin).
_NOT_PLUGIN = ("asyncio", "twisted", "peek_vortex", "peek_plugin_base", "peek_platform", "aiohttp")
#: What asyncio says when asked for a loop on a reactor that has none.
_NO_LOOP_MESSAGES = ("no running event loop", "no current event loop")


class AsyncioReactorError(RuntimeError):
    """A plugin used asyncio on a service that does not run the asyncio reactor."""

    def __init__(self, plugin: str, cause: BaseException) -> None:
        super().__init__(
            f"plugin {plugin} used asyncio ({cause}) but this service runs Twisted's default "
            'reactor; declare "asyncio": true in the plugin\'s plugin_package.json (with '
            "twisted.reactor auto, the default) or set twisted.reactor to asyncio, and "
            "restart the service")
        self.plugin = plugin


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
    if loop is None and "twisted.internet.reactor" in sys.modules:
        # Twisted's own reactor: an asyncio call inside fails with a reason that names
        # the plugin and the setting, not asyncio's bare "no running event loop".
        return Deferred.fromCoroutine(_explained(coroutine))
    if loop is None or not _running_here(loop):
        # Code run before the loop runs or on another thread (the worker drives its
        # plugin host before any reactor is installed): Twisted drives it.
        return Deferred.fromCoroutine(coroutine)
    task = loop.create_task(_bridged(coroutine, loop))
    return Deferred.fromFuture(task)


async def _explained(coroutine: Coroutine[Any, Any, Any]) -> Any:
    try:
        return await coroutine
    except RuntimeError as e:
        if isinstance(e, AsyncioReactorError) or str(e) not in _NO_LOOP_MESSAGES:
            raise
        raise AsyncioReactorError(_plugin_in(e.__traceback__), e) from e


def _plugin_in(tb: Optional[types.TracebackType]) -> str:
    """The top-level package of the innermost frame of ``tb`` that is not the platform's,
    asyncio's or Twisted's: the plugin whose code called asyncio."""
    found = "(unknown)"
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        top = module.split(".")[0]
        if top and not top.startswith(_NOT_PLUGIN):
            found = top
        tb = tb.tb_next
    return found


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
