"""The bus transport: authenticated websocket connections carrying opaque binary frames.

The layer above (the router) sees four things:

- ``VortexHandler``: it implements ``on_open(conn)``, ``on_frame(conn, data)`` and
  ``on_close(conn, reason)``; all run on the reactor thread, one frame at a time.
- ``VortexConnection``: ``name`` (the authenticated vortex name of the peer), ``uuid``
  (one per connection, the same on both ends), ``send(data)``, ``writable()``,
  ``close(code, reason)``, ``limits`` (incl. ``max_decompressed_bytes`` for the codec).
  ``send`` raises VortexBackPressureError when the connection's queue is full.
- ``VortexServerEndpoint``: mounted at ``/vortexws`` on a twisted.web site; set its
  ``handler``; look up ``connections_named(name)`` and ``connection(uuid)``.
- ``VortexClientService``: connects (and reconnects) to an endpoint; set its ``handler``;
  ``connection`` / ``when_connected()`` give the current connection.

In a running service, ``tree.getServiceNamed("vortex")`` is the server's
``VortexHubService`` (its ``endpoint``) or the upstream ``VortexClientService`` of a client,
agent or worker; a client service's device endpoint is ``"vortex-devices"``.
Wire format of the opening exchange: see ``Hello`` and ``Welcome``; close codes:
``CloseCode``.

Inside: ``link`` is the hello gate, heartbeat and close-reason logic as a plain state
machine on an ``IReactorTime`` (tested on a ``task.Clock`` and, between real protocols,
over ``twisted.test.iosim``); ``protocol`` adapts autobahn's protocols to it; ``client``
is Twisted's ``ClientService`` (retry policy: ``Backoff``; ``prepareConnection`` awaits
the welcome); ``fastpath`` is the one module that touches Twisted's and autobahn's
private internals (the write fast path), behind its one switch ``fastpath.ENABLED``.
"""

from peek_platform.vortex.transport.access import AccessPolicy
from peek_platform.vortex.transport.backoff import Backoff
from peek_platform.vortex.transport.client import VortexClientService
from peek_platform.vortex.transport.connection import (
    CloseReason,
    NullHandler,
    TransportLimits,
    VortexConnection,
    VortexHandler,
)
from peek_platform.vortex.transport.hello import CloseCode, Hello, Welcome
from peek_platform.vortex.transport.server import VortexHubService, VortexServerEndpoint

__all__ = [
    "AccessPolicy",
    "Backoff",
    "CloseCode",
    "CloseReason",
    "Hello",
    "NullHandler",
    "TransportLimits",
    "VortexClientService",
    "VortexConnection",
    "VortexHandler",
    "VortexHubService",
    "VortexServerEndpoint",
    "Welcome",
]
