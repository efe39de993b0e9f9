"""The client service's observable proxy: one upstream subscription per selector, fanned out."""

import logging
from typing import Any, Optional

from twisted.python.failure import Failure

from peek_vortex._log_throttle import LogThrottle
from peek_vortex.errors import VortexError
from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._observable_wire import (
    OP_ERROR,
    OP_POLL,
    OP_SUBSCRIBE,
    OP_UNSUBSCRIBE,
    OP_UPDATE,
    TOO_MANY_SUBSCRIPTIONS,
    ObservableMessages,
    is_far_ahead,
    is_newer,
    resync,
    send_quietly,
    subscription_refusal,
)
from peek_vortex.handlers._subscribers import SendResponse, SubscriberTable
from peek_vortex.routing._names import AcceptNames
from peek_vortex.routing._router import PayloadRouter, VortexSender
from peek_vortex.wire._codec import PayloadEnvelope

logger = logging.getLogger(__name__)
#: Updates from a connection a subscriber did not subscribe through (a forgery, or one
#: repeated by a hostile peer): logged once per sender and interval.
_foreign_updates = LogThrottle(logger)

#: A device can repeat a refused subscribe as fast as it likes; the log gets a count.
_refusals = LogThrottle(logger)


class _ProxiedSelection:
    """One selector some device watches: its devices and the latest upstream message."""

    __slots__ = ("key", "devices", "cache", "epoch", "version", "resyncing")

    def __init__(self, key: str, devices: dict[str, SendResponse]) -> None:
        self.key = key
        # vortex uuid -> send path (the proxy's SubscriberTable entry for this key)
        self.devices = devices
        self.cache: Optional[bytes] = None
        self.epoch: Optional[str] = None
        self.version = 0
        #: A resync poll is in flight (see observable_wire.VERSION_JUMP_LIMIT).
        self.resyncing = False


class TupleDataObservableProxyHandler(HandlerBase):
    """Serves an upstream observable to devices, subscribing upstream once per selector.

    Devices talk to this proxy exactly as they would to the
    :class:`~peek_vortex.handlers._observable.TupleDataObservableHandler` itself (same
    messages, see :class:`~peek_vortex.handlers._observable_wire.ObservableMessages`).
    For each selector at least one device watches, the proxy holds ONE subscription to
    ``proxyToVortexName`` and the latest update it sent. Every upstream update is
    forwarded to every watching device as the same bytes, body untouched (the proxy
    never decodes tuples): the bytes that arrived from the upstream, unless their
    header carried an originator stamp, message id or reply-to, which the proxy drops
    (see :meth:`~peek_vortex.wire._codec.PayloadEnvelope.forwardMsg`). A device
    that subscribes to a selector already watched gets the cached update at once,
    without an upstream round trip. When the last device of
    a selector leaves (unsubscribes or disconnects), the upstream subscription and the
    cache are dropped.

    One device connection may watch at most ``vortex.maxSubscriptionsPerConnection``
    selectors through one proxy; a subscribe beyond that gets an ``error`` message with
    the code ``TooManySubscriptions`` and is not sent upstream.

    When the connection to ``proxyToVortexName`` comes back after a loss, every selector
    still watched is subscribed again; the upstream answers with its current data, so
    devices converge on the server's state. Until then devices keep the last data they
    got, and a device subscribing meanwhile gets the cache (which may be behind).

    Updates are taken only from the upstream connection itself (their originator is an
    open connection of ``proxyToVortexName``); one that jumps far ahead of the cached
    version is not forwarded: the proxy polls upstream for the current data instead.
    """

    def __init__(
        self,
        observableName: str,
        proxyToVortexName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        router: Optional[PayloadRouter] = None,
        acceptOnlyFromVortex: AcceptNames = None,
    ) -> None:
        super().__init__(router)
        self._messages = ObservableMessages(observableName, additionalFilt)
        self._upstream = proxyToVortexName
        self._selections: dict[str, _ProxiedSelection] = {}
        self._subscribers = SubscriberTable()
        #: Subscribe messages sent upstream (for tests and stats).
        self.upstreamSubscribes = 0
        #: Polls forwarded upstream because the cache could not answer them.
        self.upstreamPolls = 0
        for op, cb in (
            (OP_SUBSCRIBE, self._on_subscribe),
            (OP_UNSUBSCRIBE, self._on_unsubscribe),
            (OP_POLL, self._on_poll),
        ):
            self._listen(self._messages.endpoint_filt(op), cb, acceptOnlyFromVortex)
        for op, cb in ((OP_UPDATE, self._on_update), (OP_ERROR, self._on_error)):
            self._listen(self._messages.endpoint_filt(op), cb, proxyToVortexName)
        self._events = self._listen_to_connections()
        self._own(f"observable proxy {observableName!r} to {proxyToVortexName!r}")

    @property
    def observableName(self) -> str:
        return self._messages.observableName

    def _on_shutdown(self) -> None:
        """After the endpoints are off: upstream subscriptions dropped."""
        for key in list(self._selections):
            self._send_upstream(self._messages.unsubscribe(key))
        self._selections.clear()
        self._subscribers.clear()

    # ---- introspection

    def deviceCount(self, selectorKey: str) -> int:
        return self._subscribers.count(selectorKey)

    @property
    def watchedSelectorCount(self) -> int:
        return len(self._selections)

    # ---- connection notices

    def on_connection_open(self, connection: VortexSender) -> None:
        """Upstream is back: subscribe again to every selector a device still watches."""
        if connection.vortex_name != self._upstream:
            return
        for key in list(self._selections):
            self._subscribe_upstream(key)

    def on_connection_lost(self, connection: VortexSender) -> None:
        """A device left: drop its subscriptions (upstream loss keeps the caches)."""
        uuid = connection.vortex_uuid
        if connection.vortex_name == self._upstream or self._events.is_uuid_connected(uuid):
            return
        for key in self._subscribers.drop(uuid):
            self._drop_if_unwatched(key)

    # ---- device side

    def _on_subscribe(
        self, payloadEnvelope: PayloadEnvelope, vortexUuid: str, sendResponse: SendResponse,
        **_: Any,
    ) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        refusal = subscription_refusal(
            self.observableName, self._subscribers.keys_of(vortexUuid), key,
            self._router.max_subscriptions_per_connection)
        if refusal is not None:
            _refusals.log((self.observableName, vortexUuid),
                          f"Observable proxy {self.observableName!r} refused subscriptions of"
                          f" {vortexUuid}", "Observable proxy %r refused a subscribe from %s: %s",
                          self.observableName, vortexUuid, refusal)
            send_quietly(sendResponse,
                         self._messages.error(key, TOO_MANY_SUBSCRIPTIONS, refusal), "an error")
            return
        selection = self._selections.get(key)
        new = selection is None
        if selection is None:
            selection = self._selections[key] = _ProxiedSelection(key, self._subscribers.open(key))
        self._subscribers.add(key, vortexUuid, sendResponse)
        if selection.cache is not None:
            send_quietly(sendResponse, selection.cache, f"cached data of {key}")
        if new:
            self._subscribe_upstream(key)

    def _on_unsubscribe(self, payloadEnvelope: PayloadEnvelope, vortexUuid: str, **_: Any) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        self._subscribers.remove(key, vortexUuid)
        self._drop_if_unwatched(key)

    def _on_poll(
        self, payloadEnvelope: PayloadEnvelope, sendResponse: SendResponse, **_: Any
    ) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        selection = self._selections.get(key)
        if (
            selection is not None
            and selection.cache is not None
            and self._events.is_connected(self._upstream)
        ):
            send_quietly(sendResponse, selection.cache, f"poll reply for {key}")
            return
        self.upstreamPolls += 1
        d = self._router.request(self._messages.poll(key), self._upstream)

        def relay_error(failure: Failure) -> None:
            exc = failure.value
            code = exc.code if isinstance(exc, VortexError) else type(exc).__name__
            sendResponse(self._messages.error(key, code, str(exc)))

        d.addCallbacks(sendResponse, relay_error)
        d.addErrback(lambda f: logger.warning("Could not answer a poll for %s: %s", key, f.value))

    def _drop_if_unwatched(self, key: str) -> None:
        """The last device of ``key`` left: drop its cache and the upstream subscription."""
        selection = self._selections.get(key)
        if selection is None or selection.devices:
            return
        del self._selections[key]
        self._subscribers.close(key)
        self._send_upstream(self._messages.unsubscribe(key))

    # ---- upstream side

    def _subscribe_upstream(self, key: str) -> None:
        self.upstreamSubscribes += 1
        self._send_upstream(self._messages.subscribe(key))

    def _send_upstream(self, envelope: PayloadEnvelope) -> None:
        # Not connected is normal (the upstream restarts); reconnecting resubscribes.
        try:
            self._router.send(envelope, self._upstream)
        except VortexError as e:
            logger.debug("Observable proxy %r: upstream send failed: %s", self.observableName, e)

    def _on_update(
        self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str, **_: Any
    ) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        selection = self._selections.get(key)
        if selection is None:
            return  # nobody watches it any more (an update crossed our unsubscribe)
        if not self._events.is_open(vortexName, vortexUuid):
            _foreign_updates.log(
                vortexUuid, f"updates ignored from {vortexName} ({vortexUuid})",
                "Observable proxy %r ignored an update of %s from %s (%s): not the upstream "
                "connection", self.observableName, key, vortexName, vortexUuid)
            return
        epoch, version = ObservableMessages.version_of(payloadEnvelope)
        if not is_newer(epoch, version, selection.epoch, selection.version):
            return
        if is_far_ahead(epoch, version, selection.epoch, selection.version):
            self._resync(selection, version)
            return
        self._fan_out(selection, payloadEnvelope, epoch, version)

    def _fan_out(
        self, selection: _ProxiedSelection, envelope: PayloadEnvelope, epoch: str, version: int
    ) -> None:
        # Sent as the proxy's own message (no originator stamp, id or reply-to): the
        # bytes that arrived, unless their header carried one of those (then only the
        # header is written again); the body bytes are never touched. Encoded (if at
        # all) once for every device.
        data = envelope.forwardMsg()
        selection.cache = data
        selection.epoch = epoch
        selection.version = version
        what = f"data of {selection.key}"
        for send in list(selection.devices.values()):
            send_quietly(send, data, what)

    def _resync(self, selection: _ProxiedSelection, version: int) -> None:
        key = selection.key
        resync(self._router, self._messages, key, self._upstream, selection,
               lambda: self._selections.get(key) is selection,
               lambda reply, epoch, v: self._fan_out(selection, reply, epoch, v),
               f"Observable proxy {self.observableName!r}", version)

    def _on_error(
        self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str, **_: Any
    ) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        selection = self._selections.get(key)
        if selection is None or not self._events.is_open(vortexName, vortexUuid):
            return
        data = payloadEnvelope.forwardMsg()  # the proxy's own message to its devices
        for send in list(selection.devices.values()):
            send_quietly(send, data, f"error of {key}")
