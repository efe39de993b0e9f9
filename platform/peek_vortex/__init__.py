"""The bus ("vortex"): typed tuples, routed payloads, observable data, actions and RPC over
authenticated websockets, for services and browsers alike.

It imports no other ``peek_*`` package: ``peek_vortex`` <- ``peek_plugin_base`` (whose
``vortex`` module is the plugins' façade over it) <- ``peek_platform`` <- the services.

::

    peek_vortex
    ├── errors       the one error tree of the bus (wire codes and their registry)
    ├── wire         constants, codec, payloads, hello/welcome (docs/wire-protocol.md)
    ├── tuples       Tuple, TupleField, addTupleType, TupleSelector, action tuples
    ├── routing      PayloadRouter, PayloadEndpoint, connection events, bus names, threads
    ├── handlers     observables, actions, RPC, the device forwarder
    ├── transport    websocket server and client, the bridge to the router, TLS
    └── testing      the in-memory bus

Modules whose names start with ``_`` are private; import from the packages. This package
also holds the ownership scope (what a plugin registered, so the platform can undo it)
and the coroutine runner the handlers use.
"""

# The wire installs the tuples' JSON form (Tuple.toJsonDict/fromJsonDict) when imported:
# importing it here makes that so whichever bus module a program imports first.
import peek_vortex.wire  # noqa: F401
from peek_vortex._aio import (
    AsyncioReactorError,
    as_deferred,
    asyncio_loop,
    run_coroutine,
)
from peek_vortex._log_throttle import LogThrottle
from peek_vortex._ownership import (
    OwnershipScope,
    owned_by,
    record_owned,
)

__all__ = [
    "AsyncioReactorError",
    "LogThrottle",
    "OwnershipScope",
    "as_deferred",
    "asyncio_loop",
    "owned_by",
    "record_owned",
    "run_coroutine",
]
