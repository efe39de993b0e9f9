"""A Python observer of observable data, for devices, services and tests."""

import logging
from collections.abc import Callable
from typing import Any, Optional

from twisted.internet.defer import Deferred

from peek_vortex._log_throttle import LogThrottle
from peek_vortex._ownership import record_owned
from peek_vortex.errors import RemoteError, VortexError, error_from_reply
from peek_vortex.handlers._observable_wire import (
    OP_ERROR,
    OP_UPDATE,
    ObservableMessages,
    is_far_ahead,
    is_newer,
    resync,
)
from peek_vortex.routing._router import (
    PayloadEndpoint,
    PayloadRouter,
    VortexSender,
    default_router,
)
from peek_vortex.tuples._selector import TupleSelector
from peek_vortex.wire._codec import PayloadEnvelope

logger = logging.getLogger(__name__)
#: Updates from a connection a subscriber did not subscribe through (a forgery, or one
#: repeated by a hostile peer): logged once per sender and interval.
_foreign_updates = LogThrottle(logger)

TuplesListener = Callable[[list[Any]], None]
ErrorListener = Callable[[RemoteError], None]


class ObservedTuples:
    """One local subscription to a selector: the latest tuples and listeners for new ones.

    ``tuples`` is None until the first data arrives, then the latest list received.
    :meth:`subscribe` adds a listener called with each new list (and at once with the
    current one, if any). :meth:`unsubscribe` ends this subscription; the remote one
    ends when the selector's last local subscription does.
    """

    def __init__(self, client: "TupleDataObserverClient", tupleSelector: TupleSelector) -> None:
        self.tupleSelector = tupleSelector
        self.tuples: Optional[list[Any]] = None
        #: The last error the observable reported for this selector (cleared by new data).
        self.error: Optional[RemoteError] = None
        #: How many data updates this subscription received.
        self.updateCount = 0
        self._client = client
        self._listeners: list[TuplesListener] = []
        self._error_listeners: list[ErrorListener] = []
        self._waiting: list[Deferred[list[Any]]] = []
        self.active = True

    def subscribe(
        self, onTuples: TuplesListener, onError: Optional[ErrorListener] = None
    ) -> Callable[[], None]:
        """Call ``onTuples`` with every new list (now, too, if data is here); returns undo."""
        self._listeners.append(onTuples)
        if onError is not None:
            self._error_listeners.append(onError)
        if self.tuples is not None:
            self._call(onTuples, self.tuples)

        def remove() -> None:
            if onTuples in self._listeners:
                self._listeners.remove(onTuples)
            if onError is not None and onError in self._error_listeners:
                self._error_listeners.remove(onError)

        return remove

    def nextTuples(self) -> "Deferred[list[Any]]":
        """A Deferred firing with the next list that arrives (not the current one)."""
        d: Deferred[list[Any]] = Deferred()
        self._waiting.append(d)
        return d

    def unsubscribe(self) -> None:
        """End this subscription (safe to call more than once)."""
        if self.active:
            self.active = False
            self._client._remove_subject(self)

    def _emit(self, tuples: list[Any]) -> None:
        self.tuples = tuples
        self.error = None
        self.updateCount += 1
        for listener in list(self._listeners):
            self._call(listener, tuples)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(tuples)

    def _emit_error(self, error: RemoteError) -> None:
        self.error = error
        for listener in list(self._error_listeners):
            self._call(listener, error)

    @staticmethod
    def _call(listener: Callable[[Any], None], value: Any) -> None:
        try:
            listener(value)
        except Exception:
            logger.exception("Observer listener %r failed", listener)

    def __repr__(self) -> str:
        count = None if self.tuples is None else len(self.tuples)
        return f"ObservedTuples({self.tupleSelector!r}, tuples=<{count}>)"


class _Watched:
    __slots__ = ("selector", "subjects", "epoch", "version", "tuples", "resyncing")

    def __init__(self, selector: TupleSelector) -> None:
        self.selector = selector
        self.subjects: list[ObservedTuples] = []
        self.epoch: Optional[str] = None
        self.version = 0
        self.tuples: Optional[list[Any]] = None
        #: A resync poll is in flight (see observable_wire.VERSION_JUMP_LIMIT).
        self.resyncing = False


class TupleDataObserverClient:
    """Observes the data of ``observableName`` served by ``destVortexName``.

    ``destVortexName`` is the server (``peek-server``) for services, or the client
    service for devices, where a
    :class:`~peek_vortex.handlers._observable_proxy.TupleDataObservableProxyHandler`
    answers. Local subscriptions to one selector share one remote subscription. Each
    update is decoded once, on arrival, and handed to every local subscription in
    arrival order; updates not newer than the data held (by epoch and version) are
    dropped, so the data only moves forward. Updates are taken only from a connection
    of ``destVortexName`` itself (the one subscribed through); an update far ahead of
    the version held makes the client poll for the current data instead of taking it.
    When the connection to ``destVortexName`` opens again, every watched selector is
    subscribed again and converges.
    """

    def __init__(
        self,
        observableName: str,
        destVortexName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        router: Optional[PayloadRouter] = None,
    ) -> None:
        self._messages = ObservableMessages(observableName, additionalFilt)
        self._dest = destVortexName
        self._router = router or default_router()
        self._watched: dict[str, _Watched] = {}
        self._active = True
        self._endpoints = [
            PayloadEndpoint(self._messages.endpoint_filt(op), cb, destVortexName, self._router)
            for op, cb in ((OP_UPDATE, self._on_update), (OP_ERROR, self._on_error))
        ]
        self._events = self._router.connection_events
        self._events.add_listener(self)
        record_owned(
            f"observer of {observableName!r} at {destVortexName!r}", self.shutdown
        )

    # ---- API

    def subscribeToTupleSelector(self, tupleSelector: TupleSelector) -> ObservedTuples:
        """Start observing ``tupleSelector``; the result holds and announces its data."""
        key = tupleSelector.toJsonStr()
        watched = self._watched.get(key)
        subject = ObservedTuples(self, tupleSelector)
        if watched is None:
            watched = self._watched[key] = _Watched(tupleSelector)
            watched.subjects.append(subject)
            self._send(self._messages.subscribe(key))
        else:
            watched.subjects.append(subject)
            if watched.tuples is not None:
                subject._emit(watched.tuples)
        return subject

    def pollForTuples(
        self, tupleSelector: TupleSelector, timeout: Optional[float] = None
    ) -> "Deferred[list[Any]]":
        """The selector's current tuples, once (fails with the remote error or a timeout)."""
        d = self._router.request(
            self._messages.poll(tupleSelector.toJsonStr()), self._dest, timeout=timeout
        )
        d.addCallback(lambda envelope: envelope.decodePayload().tuples)
        return d

    def unsubscribe(self, tupleSelector: TupleSelector) -> None:
        """End every local subscription to ``tupleSelector`` and the remote one."""
        watched = self._watched.get(tupleSelector.toJsonStr())
        if watched is not None:
            for subject in list(watched.subjects):
                subject.unsubscribe()

    def shutdown(self) -> None:
        """Stop observing everything (remote subscriptions are dropped)."""
        if not self._active:
            return
        self._active = False
        for endpoint in self._endpoints:
            endpoint.shutdown()
        self._events.remove_listener(self)
        for key in list(self._watched):
            self._send(self._messages.unsubscribe(key))
        self._watched.clear()

    @property
    def watchedSelectorCount(self) -> int:
        return len(self._watched)

    # ---- connection notices

    def on_connection_open(self, connection: VortexSender) -> None:
        """The observable's side is (back) online: subscribe again to everything watched."""
        if connection.vortex_name == self._dest:
            for key in list(self._watched):
                self._send(self._messages.subscribe(key))

    def on_connection_lost(self, connection: VortexSender) -> None:
        """Nothing to do: data is kept, and the next open resubscribes."""

    # ---- internals

    def _remove_subject(self, subject: ObservedTuples) -> None:
        key = subject.tupleSelector.toJsonStr()
        watched = self._watched.get(key)
        if watched is None or subject not in watched.subjects:
            return
        watched.subjects.remove(subject)
        if not watched.subjects:
            del self._watched[key]
            if self._active:
                self._send(self._messages.unsubscribe(key))

    def _send(self, envelope: PayloadEnvelope) -> None:
        # Not connected is normal (the far side restarts); reconnecting resubscribes.
        try:
            self._router.send(envelope, self._dest)
        except VortexError as e:
            logger.debug("Observer of %r: send failed: %s", self._messages.observableName, e)

    def _on_update(
        self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str, **_: Any
    ) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        watched = self._watched.get(key)
        if watched is None:
            return
        if not self._events.is_open(vortexName, vortexUuid):
            # Not the connection this client subscribed through: a forwarded stamp.
            _foreign_updates.log(
                vortexUuid, f"updates ignored from {vortexName} ({vortexUuid})",
                "Observer of %r ignored an update of %s from %s (%s): not the connection it "
                "subscribed through", self._messages.observableName, key, vortexName, vortexUuid)
            return
        epoch, version = ObservableMessages.version_of(payloadEnvelope)
        if not is_newer(epoch, version, watched.epoch, watched.version):
            return
        if is_far_ahead(epoch, version, watched.epoch, watched.version):
            self._resync(key, watched, version)
            return
        self._take(watched, payloadEnvelope, epoch, version)

    def _take(
        self, watched: _Watched, envelope: PayloadEnvelope, epoch: str, version: int
    ) -> None:
        tuples = envelope.decodePayload().tuples
        watched.epoch, watched.version, watched.tuples = epoch, version, tuples
        for subject in list(watched.subjects):
            subject._emit(tuples)

    def _resync(self, key: str, watched: _Watched, version: int) -> None:
        resync(self._router, self._messages, key, self._dest, watched,
               lambda: self._watched.get(key) is watched,
               lambda reply, epoch, v: self._take(watched, reply, epoch, v),
               f"Observer of {self._messages.observableName!r}", version)

    def _on_error(
        self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str, **_: Any
    ) -> None:
        watched = self._watched.get(ObservableMessages.selector_key(payloadEnvelope))
        if (
            watched is None or payloadEnvelope.error is None
            or not self._events.is_open(vortexName, vortexUuid)
        ):
            return
        error = error_from_reply(*payloadEnvelope.error)
        for subject in list(watched.subjects):
            subject._emit_error(error)
