"""The bus transport: authenticated websocket connections carrying opaque binary frames.

The layer above (the router) sees four things:

- ``VortexHandler``: it implements ``on_open(conn)``, ``on_frame(conn, data)`` and
  ``on_close(conn, reason)``; all run on the reactor thread, one frame at a time.
- ``VortexConnection``: ``name`` (the authenticated vortex name of the peer), ``uuid``
  (one per connection, the same on both ends), ``send(data)``, ``writable()``,
  ``close(code, reason)``, ``limits`` (incl. ``max_decompressed_bytes`` for the codec).
  ``send`` raises VortexBackPressureError when the connection's queue is full.
- ``VortexServer``: mounted at ``/vortexws`` on a twisted.web site; set its
  ``handler``; look up ``connections_named(name)`` and ``connection(uuid)``.
- ``VortexClientService``: connects (and reconnects) to an endpoint; set its ``handler``;
  ``connection`` / ``when_connected()`` give the current connection.

In a running service, ``tree.getServiceNamed("vortex")`` is the server's
``VortexHubService`` (its ``endpoint``) or the upstream ``VortexClientService`` of a client,
agent or worker; a client service's device websocket is ``"vortex-devices"``.
Wire format of the opening exchange: see ``Hello`` and ``Welcome``; close codes:
``CloseCode``.

Inside: ``link`` is the hello gate, heartbeat and close-reason logic as a plain state
machine on an ``IReactorTime`` (tested on a ``task.Clock`` and, between real protocols,
over ``twisted.test.iosim``); ``protocol`` adapts autobahn's protocols to it; ``client``
is Twisted's ``ClientService`` (retry policy: ``Backoff``; ``prepareConnection`` awaits
the welcome); ``fastpath`` is the one module that touches Twisted's and autobahn's
private internals (the write fast path), behind its one switch ``fastpath.ENABLED``.
"""

from peek_vortex.transport._access import (
    DEVICE_NAMES,
    SERVICE_NAMES,
    AccessPolicy,
)
from peek_vortex.transport._backoff import Backoff
from peek_vortex.transport._bridge import (
    CLOSE_MALFORMED_MESSAGE,
    ConnectionReporter,
    DeviceSide,
    VortexBridge,
    answer_heartbeats,
)
from peek_vortex.transport._client import (
    VortexClientProtocol,
    VortexClientService,
)
from peek_vortex.transport._fastpath import (
    ReadBatchWriter,
    binary_frame,
)
from peek_vortex.transport._link import (
    CloseReason,
    FrameRoute,
    LinkState,
    Phase,
    TransportLimits,
    close_reason,
)
from peek_vortex.transport._protocol import NullHandler, VortexConnection, VortexHandler
from peek_vortex.transport._server import (
    Admission,
    VortexHubService,
    VortexResource,
    VortexServer,
    VortexServerProtocol,
    take_admission,
)
from peek_vortex.transport._throttle import WrongTokenThrottle
from peek_vortex.transport._tls import (
    describe_tls_failure,
    verifying_tls_options,
)

__all__ = [
    "AccessPolicy",
    "Admission",
    "Backoff",
    "VortexBridge",
    "CLOSE_MALFORMED_MESSAGE",
    "CloseReason",
    "ConnectionReporter",
    "DEVICE_NAMES",
    "DeviceSide",
    "FrameRoute",
    "LinkState",
    "NullHandler",
    "Phase",
    "ReadBatchWriter",
    "SERVICE_NAMES",
    "TransportLimits",
    "VortexClientProtocol",
    "VortexClientService",
    "VortexConnection",
    "VortexHandler",
    "VortexHubService",
    "VortexResource",
    "VortexServer",
    "VortexServerProtocol",
    "WrongTokenThrottle",
    "answer_heartbeats",
    "binary_frame",
    "close_reason",
    "describe_tls_failure",
    "take_admission",
    "verifying_tls_options",
]
