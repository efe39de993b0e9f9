"""The skeleton every bus handler shares: endpoints on one router, connection notices,
ownership by the loading plugin, and a shutdown that runs once.

A handler (observable, proxy, observer, action processor or proxy, device forwarder, RPC
handle, CRUD handler) builds on :class:`HandlerBase`::

    class MyHandler(HandlerBase):
        def __init__(self, name, router=None):
            super().__init__(router)
            self._claim(f"my.{name}")                       # one handler per key
            self._listen({"key": f"my.{name}"}, self._on_message)
            self._listen_to_connections()                    # on_connection_open/_lost
            self._own(f"my handler {name!r}")                # unloading the plugin stops it

        def _on_shutdown(self):
            ...                                              # what only this handler undoes

``shutdown()`` stops the endpoints, releases the claimed keys, stops listening to
connections and then calls ``_on_shutdown``, once: later calls do nothing. Nothing here
runs per message; it is construction and teardown only.
"""

from collections.abc import Callable
from typing import Any, Optional

from peek_vortex._ownership import record_owned
from peek_vortex.handlers._call_support import claim_key, release_key
from peek_vortex.routing._connection_events import ConnectionEvents
from peek_vortex.routing._names import AcceptNames
from peek_vortex.routing._router import (
    PayloadEndpoint,
    PayloadRouter,
    VortexSender,
    default_router,
)


class HandlerBase:
    """Endpoints, claimed keys and connection listening on one router, undone once."""

    def __init__(self, router: Optional[PayloadRouter] = None) -> None:
        self._router = router or default_router()
        self._endpoints: list[PayloadEndpoint] = []
        self._claimed: list[str] = []
        # The connection notices listened to (None: not listening).
        self._notices: Optional[ConnectionEvents] = None
        #: False once :meth:`shutdown` ran (plugins and tests read it).
        self.active = True

    # ---- construction (subclasses call these from __init__)

    def _listen(
        self, filt: dict[str, Any], callback: Callable[..., Any],
        acceptOnlyFromVortex: AcceptNames = None,
    ) -> PayloadEndpoint:
        """Receive messages matching ``filt`` until shutdown."""
        endpoint = PayloadEndpoint(filt, callback, acceptOnlyFromVortex, self._router)
        self._endpoints.append(endpoint)
        return endpoint

    def _claim(self, key: str) -> None:
        """Be the only action/RPC handler of filt ``key`` on the router until shutdown
        (a second would answer each call twice); a RoutingError if another holds it."""
        claim_key(self._router, key, self)
        self._claimed.append(key)

    def _listen_to_connections(self) -> ConnectionEvents:
        """Get ``on_connection_open``/``on_connection_lost`` calls until shutdown."""
        self._notices = self._router.connection_events
        self._notices.add_listener(self)
        return self._notices

    def _own(self, description: str) -> None:
        """Record this handler with the plugin being loaded: its failure or unload shuts
        the handler down (outside a plugin, nothing is recorded)."""
        record_owned(description, self.shutdown)

    # ---- connection notices (override what the handler needs)

    def on_connection_open(self, connection: VortexSender) -> None:
        """A connection finished its hello (nothing to do unless overridden)."""

    def on_connection_lost(self, connection: VortexSender) -> None:
        """A connection closed (nothing to do unless overridden)."""

    # ---- teardown

    def shutdown(self) -> None:
        """Stop the handler: endpoints off, keys released, no more connection notices.

        Safe to call more than once; only the first call does anything.
        """
        if not self.active:
            return
        self.active = False
        for endpoint in self._endpoints:
            endpoint.shutdown()
        for key in self._claimed:
            release_key(self._router, key, self)
        if self._notices is not None:
            self._notices.remove_listener(self)
        self._on_shutdown()

    def _on_shutdown(self) -> None:
        """What only this handler undoes, after the common part (runs once)."""
