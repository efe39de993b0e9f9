"""Running plugin coroutines that mix asyncio and Twisted awaitables (see
:func:`run_coroutine`; the implementation is the bus's, ``peek_vortex``)."""

from peek_vortex import AsyncioReactorError, asyncio_loop, run_coroutine

__all__ = ["AsyncioReactorError", "asyncio_loop", "run_coroutine"]
