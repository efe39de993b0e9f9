"""Routing: the payload router (endpoints, request/reply, the device boundary), connection
events, the bus names of the platform's services and devices (and the accepted-sender
type every ``acceptOnlyFromVortex`` takes), and the thread helpers."""

from peek_vortex.routing._connection_events import (
    ConnectionEvents,
    ConnectionListener,
    VortexSender,
)
from peek_vortex.routing._names import (
    AcceptNames,
    accept_set,
    peekAdminName,
    peekAgentName,
    peekClientName,
    peekDesktopName,
    peekMobileName,
    peekServerName,
    peekWorkerName,
)
from peek_vortex.routing._router import (
    LocalSender,
    PayloadEndpoint,
    PayloadRouter,
    connection_events,
    default_router,
    routing_through,
)
from peek_vortex.routing._threads import (
    deferToThreadWrap,
    deferToThreadWrapWithLogger,
    run_in_thread,
    running_threads_inline,
)

__all__ = [
    "AcceptNames",
    "ConnectionEvents",
    "ConnectionListener",
    "LocalSender",
    "PayloadEndpoint",
    "PayloadRouter",
    "VortexSender",
    "accept_set",
    "connection_events",
    "default_router",
    "deferToThreadWrap",
    "deferToThreadWrapWithLogger",
    "peekAdminName",
    "peekAgentName",
    "peekClientName",
    "peekDesktopName",
    "peekMobileName",
    "peekServerName",
    "peekWorkerName",
    "routing_through",
    "run_in_thread",
    "running_threads_inline",
]
