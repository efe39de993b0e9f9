"""Routes received messages to endpoints by filt (through an index) and matches replies.

The router knows nothing about sockets. Whoever owns a transport

* calls :meth:`PayloadRouter.receive` with each received message's bytes and the
  connection it came from (any object with ``vortex_name`` and ``vortex_uuid`` attributes,
  see :class:`VortexSender`), and
* gives the router a ``send(destination, data)`` callable, where ``destination`` is either
  a vortex name (``str``: every connection of that name) or one connection object as it
  was passed to ``receive`` (for replies), and ``data`` is the complete message bytes.

Delivery rule: a message reaches every endpoint whose ``filt`` is a subset of the
message's ``filt`` (same keys with equal values; the message may carry more keys). Every
endpoint filt must contain ``"key"``; endpoints are indexed by that value and then by the
set of their other items, so a message is only compared with endpoints sharing its key.
Values compare exactly: lists by order, ``True`` never equals ``1``.

Replies: :meth:`PayloadRouter.request` stamps a message id, keeps the request in a dict
until the reply (a message whose header ``r`` is that id, from the peer it was sent to)
arrives, and fails it with :class:`ReplyTimeoutError` after its timeout on the router's
clock, or with :class:`ConnectionLostError` when the transport reports the peer gone.
Replies never go through endpoints.

Originator: every delivered envelope carries ``originator``
(:class:`~peek_vortex.wire._codec.Originator`), and endpoint callbacks get its
name and uuid as ``vortexName``/``vortexUuid``; ``acceptOnlyFromVortex`` is checked
against it. The router stamps it from the connection when the message is first received
(header ``o`` absent), keeps a device's stamp that arrived over a service connection (a
client service forwarding for ``peek-mobile``/``peek-desktop``), and replaces any other:
a device never speaks for anyone else, and a service never for another service.

The device boundary: the transport says which connections are devices
(``receive(..., device=True)``, anonymous browsers on a client service's device
endpoint). A device message may address only this process (header ``d`` absent or one of
:attr:`PayloadRouter.local_vortex_names`) and never one connection (header ``c``); any
other is refused: a request gets an ``AccessDeniedError`` reply, the refusal is logged
once per connection, and nothing is forwarded. Messages for other names from service
connections are dropped and logged; the router never forwards on its own. Devices reach
further only through what a plugin exposes (observable and action proxies,
:class:`~peek_vortex.handlers._device_forwarder.DeviceForwarder`).

Timeouts cost no timer per request: each request records its deadline, and the router
keeps ONE timer on its clock, armed for the earliest deadline it knows of. When it fires
it fails every request whose deadline has passed and re-arms for the next one, so a
request times out exactly at its deadline (no granularity beyond the clock's). A reply
only touches the timer when, once its callbacks have run, no request is left waiting:
the timer is then cancelled, so an idle router leaves nothing on its clock. A caller
whose callback sends the next request (one call after another) keeps the same timer.

Like the rest of Twisted, a router works on the reactor thread. Two entry points plugins
reach from worker threads are guarded: :meth:`PayloadRouter.send` (so also an endpoint's
``sendResponse``) called on another thread hands the send to the reactor thread (a failure
is then logged, not raised), and :meth:`PayloadRouter.request` (RPC calls, action pushes)
raises :class:`RoutingError` there, since its Deferred must fire on the reactor thread.
"""

import contextvars
import inspect
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional, Union

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python import threadable
from twisted.python.failure import Failure

from peek_vortex._aio import as_deferred
from peek_vortex._ownership import record_owned
from peek_vortex.errors import (
    AccessDeniedError,
    ConnectionLostError,
    NoEndpointError,
    NoTransportError,
    PluginReloadingError,
    ReplyTimeoutError,
    RoutingError,
    VortexError,
    error_from_reply,
    error_reply,
)
from peek_vortex.routing._connection_events import ConnectionEvents, VortexSender
from peek_vortex.routing._names import AcceptNames, accept_set, peekDesktopName, peekMobileName
from peek_vortex.wire._codec import (
    Originator,
    Payload,
    PayloadEnvelope,
    VortexCodec,
    default_codec,
)

logger = logging.getLogger(__name__)

# The reactor thread: every send, request and delivery happens on it.
_MAIN_THREAD_ID = threading.main_thread().ident


def on_reactor_thread() -> bool:
    """True on the reactor thread; before a reactor has run, on the main thread (where the
    services run it, and where Clock-driven unit tests drive the bus). Costs one
    ``get_ident`` call: it guards every send."""
    io_thread = threadable.ioThread
    return threading.get_ident() == (_MAIN_THREAD_ID if io_thread is None else io_thread)


def hand_to_reactor_thread(func: Callable[..., Any], *args: Any) -> None:
    """Queue ``func(*args)`` for the reactor thread, which wakes at once (for callers that
    found themselves on another thread; an exception it raises is logged there)."""
    from twisted.internet import reactor

    reactor.callFromThread(func, *args)  # type: ignore[attr-defined]


def require_reactor_thread(what: str) -> None:
    """Raise RoutingError naming ``what`` when called off the reactor thread."""
    if not on_reactor_thread():
        raise RoutingError(
            f"{what} must be called on the reactor thread, not from thread "
            f"{threading.current_thread().name!r}; from a worker thread use "
            "twisted.internet.threads.blockingCallFromThread(reactor, ...) or "
            "reactor.callFromThread(...)"
        )

#: Seconds a request waits for its reply unless told otherwise.
DEFAULT_REPLY_TIMEOUT = 30.0
#: Subscriptions one connection may hold on one observable or proxy unless configured.
DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 200

_NEVER = float("inf")
#: A filt lookup's "no such key" (None is a legal filt value).
_MISSING = object()
# Builds an Originator without NamedTuple's Python-level __new__ (once per device message).
_tuple_new = tuple.__new__

#: The only originators a service connection may carry through: the devices a client
#: service forwards for. A service never speaks for another service (nor for peek-server).
_FORWARDABLE_ORIGINATORS = frozenset((peekMobileName, peekDesktopName))

#: The error code a refused device message is answered with.
_ACCESS_DENIED = AccessDeniedError.code
#: Refusals are logged once per connection; the memory of who was logged is bounded.
_REFUSALS_REMEMBERED = 4096


class LocalSender:
    """The sender of messages a process delivers to itself."""

    def __init__(self, vortex_name: str = "local", vortex_uuid: str = "local") -> None:
        self.vortex_name = vortex_name
        self.vortex_uuid = vortex_uuid

    def __repr__(self) -> str:
        return f"LocalSender({self.vortex_name!r})"


Destination = Union[str, VortexSender]
SendCallable = Callable[[Destination, bytes], None]
Outgoing = Union[bytes, Payload, PayloadEnvelope]


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a filt value; bools stay distinct from ints."""
    vtype = type(value)
    if vtype is bool:
        return (bool, value)
    if vtype is list or vtype is tuple:
        return (list, tuple(_freeze(v) for v in value))
    if vtype is dict:
        return (dict, frozenset((k, _freeze(v)) for k, v in value.items()))
    return value


def _describe(destination: Destination) -> str:
    if isinstance(destination, str):
        return f"vortex {destination!r}"
    return f"connection {getattr(destination, 'vortex_uuid', destination)!r}"


class PayloadEndpoint:
    """Calls ``callback`` for every message whose filt contains all of ``filt``.

    The callback is called with keyword arguments ``payloadEnvelope`` (header decoded, body
    still encoded: call ``payloadEnvelope.decodePayload()``), ``vortexName`` and
    ``vortexUuid`` (the originator's authenticated identity, also in
    ``payloadEnvelope.originator``) and ``sendResponse`` (a callable
    taking a Payload, PayloadEnvelope or message bytes, sent back to the same connection
    and marked as the reply to the message). It may return a value, a Deferred or a
    coroutine. ``acceptOnlyFromVortex`` limits originators by vortex name.

    The endpoint is active from construction until :meth:`shutdown`; the registration is
    recorded against the loading plugin so unloading it shuts the endpoint down.
    """

    def __init__(
        self,
        filt: dict[str, Any],
        callback: Callable[..., Any],
        acceptOnlyFromVortex: AcceptNames = None,
        router: Optional["PayloadRouter"] = None,
    ) -> None:
        if "key" not in filt:
            raise RoutingError(f"an endpoint filt needs a 'key' entry, got {filt!r}")
        self.filt = dict(filt)
        self.callback = callback
        self.accept_only: Optional[frozenset[str]] = accept_set(acceptOnlyFromVortex)
        self.router = router or default_router()
        self.active = True
        self.router.add_endpoint(self)
        record_owned(f"bus websocket {self.filt!r}", self.shutdown)

    @property
    def index_key(self) -> tuple[Any, frozenset]:
        """(frozen key value, frozen set of the other items): where the index files it."""
        rest = frozenset((k, _freeze(v)) for k, v in self.filt.items() if k != "key")
        return _freeze(self.filt["key"]), rest

    def shutdown(self) -> None:
        """Stop receiving; safe to call more than once."""
        if self.active:
            self.active = False
            self.router.remove_endpoint(self)

    def __repr__(self) -> str:
        return f"PayloadEndpoint({self.filt!r}, {self.callback!r})"


class _Pending:
    __slots__ = ("deferred", "deadline", "destination", "key", "timeout")

    def __init__(
        self, deferred: Deferred, deadline: float, destination: Destination, key: Any,
        timeout: float,
    ) -> None:
        self.deferred = deferred
        self.deadline = deadline
        self.destination = destination
        self.key = key
        self.timeout = timeout


class PayloadRouter:
    """Indexes endpoints, dispatches received messages and correlates request/reply.

    A router also carries, as plain attributes, the state the bus handlers keep per bus:
    a process normally has one router, the test harness one per simulated service, and
    nothing of it is process-wide. The platform sets the configurable ones when it joins
    the router to its transports (``peek_platform.vortex.wiring.attach_bus``).
    """

    def __init__(
        self,
        send: Optional[SendCallable] = None,
        clock: Optional[IReactorTime] = None,
        local_vortex_names: tuple[str, ...] = (),
        default_timeout: float = DEFAULT_REPLY_TIMEOUT,
        codec: Optional[VortexCodec] = None,
    ) -> None:
        self._send = send
        self._clock = clock
        self.local_vortex_names = frozenset(local_vortex_names)
        self.default_timeout = default_timeout
        #: Encodes the payloads this router is handed and decodes what it receives: a
        #: received envelope's ``decodePayload()`` inflates within this codec's
        #: ``max_inflated_bytes`` (config ``vortex.maxDecompressedBytes``). Without one,
        #: the wire's defaults (:data:`~peek_vortex.wire.default_codec`).
        self.codec: VortexCodec = codec if codec is not None else default_codec
        #: Connections opening and closing, as the transport reports them; observables
        #: and proxies listen to it.
        self.connection_events = ConnectionEvents()
        #: Filt key -> the one action processor, action proxy, RPC or device forwarder
        #: that answers it here (two would answer one call twice).
        self.handler_claims: dict[str, object] = {}
        #: Filt key -> the started :class:`~peek_vortex.handlers.RpcHandle` serving that
        #: RPC here (a call made in this process runs it locally).
        self.rpc_handles: dict[str, Any] = {}
        #: Told about every RPC call this router answers: ``(rpcName, callerVortexName,
        #: status, seconds)``, status ``ok``, ``error``, ``denied`` or ``bad_call`` (the
        #: platform's monitoring events set it; it must not raise).
        self.rpc_observer: Optional[Callable[[str, str, str, float], None]] = None
        #: Where action processors on this router record final outcomes (an
        #: :class:`~peek_vortex.handlers.ActionOutcomeStore`; the server's platform
        #: installs a durable one). None: each processor keeps its own in memory.
        self.action_outcome_store: Optional[Any] = None
        #: How many selectors one connection may watch on one observable or proxy here
        #: (config ``vortex.maxSubscriptionsPerConnection``).
        self.max_subscriptions_per_connection = DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION
        # key value -> {other items -> endpoints}
        self._index: dict[Any, dict[frozenset, list[PayloadEndpoint]]] = {}
        self._pending: dict[str, _Pending] = {}
        # The one timeout timer and the deadline it is armed for (inf: not armed).
        self._sweep: Optional[IDelayedCall] = None
        self._sweep_at = _NEVER
        self._id_prefix = os.urandom(6).hex() + "."
        self._ids = itertools.count(1)
        self._refusals_logged: set[str] = set()
        # frozen key value -> (plugin name, what callers are told, originators accepted
        # or None for all) while its plugin reloads.
        self._held: dict[Any, tuple[str, str, Optional[frozenset[str]]]] = {}
        # plugin name -> messages without a reply id that arrived while it was held.
        self._held_dropped: dict[str, int] = {}

    # ---- wiring

    def set_send(self, send: Optional[SendCallable]) -> None:
        """Attach (or with None detach) the transport's send callable."""
        self._send = send

    def set_clock(self, clock: IReactorTime) -> None:
        """Use this clock for reply timeouts (tests pass a ``task.Clock``)."""
        armed = self._sweep_at
        self._disarm()
        self._clock = clock
        if armed != _NEVER:
            self._arm(armed)

    def set_local_vortex_names(self, names: tuple[str, ...]) -> None:
        """The names this process answers to; messages for other names are not delivered."""
        self.local_vortex_names = frozenset(names)

    @property
    def clock(self) -> IReactorTime:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor  # type: ignore[assignment]
        return self._clock  # type: ignore[return-value]

    # ---- endpoints

    def add_endpoint(self, endpoint: PayloadEndpoint) -> None:
        """File an endpoint in the index."""
        key, rest = endpoint.index_key
        self._index.setdefault(key, {}).setdefault(rest, []).append(endpoint)

    def remove_endpoint(self, endpoint: PayloadEndpoint) -> None:
        """Take an endpoint out of the index (unknown endpoints are ignored)."""
        key, rest = endpoint.index_key
        shapes = self._index.get(key)
        if shapes is None or rest not in shapes:
            return
        bucket = shapes[rest]
        if endpoint in bucket:
            bucket.remove(endpoint)
        if not bucket:
            del shapes[rest]
        if not shapes:
            del self._index[key]

    def endpoints_for(self, filt: dict[str, Any]) -> list[PayloadEndpoint]:
        """Every endpoint whose filt is a subset of ``filt``, via the index."""
        if "key" not in filt:
            return []
        try:
            shapes = self._index.get(_freeze(filt["key"]))
        except TypeError:
            return []
        if not shapes:
            return []
        found: list[PayloadEndpoint] = []
        missing = _MISSING
        for rest, bucket in shapes.items():
            # Only the shape's own items are frozen and compared (the message's filt
            # usually holds more keys than any endpoint asks for).
            for k, frozen in rest:
                value = filt.get(k, missing)
                if type(value) is str:
                    # A string freezes to itself: no call for the common filt value.
                    if value != frozen:
                        break
                elif value is missing or _freeze(value) != frozen:
                    break
            else:
                found.extend(bucket)
        return found

    def hold_endpoints(self, endpoints: list[PayloadEndpoint], plugin_name: str,
                       reason: str) -> None:
        """Answer new requests for these endpoints' keys with PluginReloadingError until
        :meth:`release_held`.

        The plugin host holds a plugin's endpoints from before its stop until after its
        start, so a request in that window gets a clear, retryable answer instead of
        reaching a stopping plugin or getting NoEndpointError. Only originators an
        endpoint accepts (``acceptOnlyFromVortex``) are told; a message without a reply id
        is counted and reported by :meth:`release_held`.
        """
        for endpoint in endpoints:
            try:
                key = _freeze(endpoint.filt["key"])
            except TypeError:
                continue
            accept = endpoint.accept_only
            held = self._held.get(key)
            if held is not None and held[2] is not None and accept is not None:
                accept = accept | held[2]
            elif held is not None:
                accept = None
            self._held[key] = (plugin_name, reason, accept)
        self._held_dropped.setdefault(plugin_name, 0)

    def release_held(self, plugin_name: str) -> int:
        """Stop holding ``plugin_name``'s endpoints; returns the one-way messages that
        arrived for it while held (no reply could carry an error to their senders)."""
        for key in [k for k, held in self._held.items() if held[0] == plugin_name]:
            del self._held[key]
        return self._held_dropped.pop(plugin_name, 0)

    @property
    def endpoint_count(self) -> int:
        return sum(len(b) for shapes in self._index.values() for b in shapes.values())

    # ---- receiving

    def receive(self, data: bytes, sender: VortexSender, device: bool = False) -> None:
        """Handle one received message: reply matching or endpoint delivery.

        ``device`` says the connection is a device's (see the module docstring): its
        messages may only address this process and are stamped as its own. A malformed
        message raises ``DecodeError`` to the transport, which decides how to tell the
        peer; nothing has been delivered in that case.
        """
        envelope = PayloadEnvelope.fromVortexMsg(data, self.codec)
        dest = envelope.destVortexName
        if device:
            if (
                dest is not None and dest not in self.local_vortex_names
            ) or envelope.destVortexUuid is not None:
                self._refuse_device(envelope, sender)
                return
            # Whatever the device wrote in 'o' is replaced: it speaks only for itself.
            envelope.originator = _tuple_new(
                Originator, (sender.vortex_name, sender.vortex_uuid, True)
            )
        else:
            if dest is not None and self.local_vortex_names and dest not in self.local_vortex_names:
                logger.warning(
                    "Dropped a message for vortex %r from %s: not for this process",
                    dest, _describe(sender),
                )
                return
            origin = envelope._originator
            if origin is not None and not (origin[2] is True
                                           and origin[0] in _FORWARDABLE_ORIGINATORS):
                # Only a device's stamp is carried through; a service claiming another
                # service's name (peek-server included) speaks for itself instead.
                logger.warning("Replaced the originator %r a message from %s claimed",
                               origin, _describe(sender))
                envelope._originator = None
        self.deliver(envelope, sender)

    def _refuse_device(self, envelope: PayloadEnvelope, sender: VortexSender) -> None:
        """Answer (and log once per connection) a device message addressed past this process."""
        target = (f"connection {envelope.destVortexUuid!r}"
                  if envelope.destVortexUuid is not None
                  else f"vortex {envelope.destVortexName!r}")
        here = ", ".join(sorted(self.local_vortex_names)) or "this process"
        reason = (f"devices may only address {here}, not {target} "
                  f"(filt key {envelope.filt.get('key')!r})")
        logged = self._refusals_logged
        uuid = sender.vortex_uuid
        if uuid in logged:
            logger.debug("Refused a device message from %s: %s", _describe(sender), reason)
        else:
            if len(logged) >= _REFUSALS_REMEMBERED:
                logged.clear()
            logged.add(uuid)
            logger.warning("Refused a device message from %s (%s): %s "
                           "(further refusals for it are logged at debug level)",
                           sender.vortex_name, uuid, reason)
        if envelope.messageId is None:
            return
        try:
            self.send_reply(envelope, PayloadEnvelope(error=(_ACCESS_DENIED, reason)), sender)
        except VortexError as e:
            logger.debug("Could not tell %s its message was refused: %s", _describe(sender), e)

    def deliver(self, envelope: PayloadEnvelope, sender: VortexSender) -> None:
        """Deliver a parsed envelope: to its pending request, or to matching endpoints.

        An envelope without an ``originator`` is the sender's own.
        """
        if envelope.replyToId is not None and self._resolve_reply(envelope, sender):
            return
        if self._held and self._answer_held(envelope, sender):
            return  # its plugin is between stop and start: no new work goes into it
        endpoints = self.endpoints_for(envelope.filt)
        if not endpoints:
            logger.debug("No endpoint for filt %r from %s", envelope.filt, _describe(sender))
            if envelope.messageId is not None:
                # A caller waiting for a reply learns now, not at its timeout.
                where = ", ".join(sorted(self.local_vortex_names)) or "this process"
                error = (NoEndpointError.code,
                         f"{where} has no handler for key {envelope.filt.get('key')!r}")
                self.send_reply(envelope, PayloadEnvelope(filt=envelope.filt, error=error),
                                sender)
            return
        origin = envelope._originator
        if origin is None:
            # The sender itself is the originator; the stamp is built only if asked for.
            envelope._sender = sender
            name, uuid = sender.vortex_name, sender.vortex_uuid
        else:
            name, uuid = origin[0], origin[1]
        respond = self._responder(envelope, sender)
        for endpoint in endpoints:
            if not endpoint.active:
                continue  # shut down by a handler earlier in this same dispatch
            accept = endpoint.accept_only
            if accept is not None and name not in accept:
                continue
            self._call(endpoint, envelope, sender, respond, name, uuid)

    def _answer_held(self, envelope: PayloadEnvelope, sender: VortexSender) -> bool:
        """Answer a message for a held key (its plugin is reloading); False if not held."""
        try:
            held = self._held.get(_freeze(envelope.filt.get("key")))
        except TypeError:
            return False
        if held is None:
            return False
        plugin_name, reason, accept = held
        if accept is not None:
            origin = envelope._originator
            name = sender.vortex_name if origin is None else origin[0]
            if name not in accept:
                return False  # its endpoints never took this originator's messages
        if envelope.messageId is None:
            self._held_dropped[plugin_name] = self._held_dropped.get(plugin_name, 0) + 1
            return True
        error = (PluginReloadingError.code,
                 f"plugin {plugin_name} is {reason}; retry shortly "
                 f"(filt key {envelope.filt.get('key')!r})")
        self.send_reply(envelope, PayloadEnvelope(filt=envelope.filt, error=error), sender)
        return True

    def _responder(self, request: PayloadEnvelope, sender: VortexSender) -> Callable[..., None]:
        send = self.send

        def send_response(response: Outgoing, *args: Any, **kwargs: Any) -> None:
            if request.messageId is None:
                # Nothing to mark as a reply (a subscriber's channel): what send_reply
                # does then, one call less for every message an observable fans out.
                send(response, sender)
            else:
                self.send_reply(request, response, sender)

        return send_response

    def _call(
        self,
        endpoint: PayloadEndpoint,
        envelope: PayloadEnvelope,
        sender: VortexSender,
        respond: Callable[..., None],
        vortexName: str,
        vortexUuid: str,
    ) -> None:
        try:
            result = endpoint.callback(
                payloadEnvelope=envelope,
                vortexName=vortexName,
                vortexUuid=vortexUuid,
                sendResponse=respond,
            )
        except Exception as e:
            self._handler_failed(endpoint, envelope, sender, Failure(e))
            return
        if result is None:
            return
        if inspect.iscoroutine(result):
            result = as_deferred(result)  # an asyncio Task on the asyncio reactor
        if isinstance(result, Deferred):
            result.addErrback(lambda f: self._handler_failed(endpoint, envelope, sender, f))

    def _handler_failed(
        self,
        endpoint: PayloadEndpoint,
        envelope: PayloadEnvelope,
        sender: VortexSender,
        failure: Failure,
    ) -> None:
        error = error_reply(
            failure, logger, f"Bus endpoint {endpoint.filt!r} on a message from "
            f"{_describe(sender)}")
        if envelope.messageId is None:
            return
        try:
            self.send_reply(envelope, PayloadEnvelope(filt=envelope.filt, error=error), sender)
        except VortexError:
            logger.exception("Could not send the error reply to %s", _describe(sender))

    def _resolve_reply(self, envelope: PayloadEnvelope, sender: VortexSender) -> bool:
        reply_to = envelope.replyToId
        pending = self._pending.get(reply_to)  # type: ignore[arg-type]
        if pending is None:
            logger.debug("Late or unknown reply %s from %s", reply_to, _describe(sender))
            return True
        dest = pending.destination
        if isinstance(dest, str):
            matches = sender.vortex_name == dest
        else:
            matches = sender is dest or sender.vortex_uuid == dest.vortex_uuid
        if not matches:
            logger.warning(
                "Ignored a reply to %s from %s: the request went to %s",
                reply_to, _describe(sender), _describe(dest),
            )
            return True
        pending_table = self._pending
        del pending_table[reply_to]  # type: ignore[arg-type]
        try:
            if envelope.error is not None:
                pending.deferred.errback(error_from_reply(*envelope.error))
            else:
                pending.deferred.callback(envelope)
        finally:
            # Checked after the callbacks, which often send the next request: then the
            # timer stays armed for it instead of being cancelled and made again.
            if not pending_table:
                self._disarm()
        return True

    # ---- sending

    def _transport(self) -> SendCallable:
        if self._send is None:
            raise NoTransportError("the bus has no transport attached to send with")
        return self._send

    def new_message_id(self) -> str:
        """A message id unique within this process (random prefix + counter)."""
        return f"{self._id_prefix}{next(self._ids)}"

    def send(self, message: Outgoing, destination: Destination) -> None:
        """Send a message to a vortex name (all its connections) or to one connection.

        From a thread other than the reactor's, the send is handed to the reactor thread.
        """
        if not on_reactor_thread():
            hand_to_reactor_thread(self._send_handed_over, message, destination)
            return
        if type(message) is not bytes:  # the isinstance checks only for what needs them
            if isinstance(message, Payload):
                message = message.makePayloadEnvelope(codec=self.codec)
            if isinstance(message, PayloadEnvelope):
                if message.destVortexName is None and isinstance(destination, str):
                    message.destVortexName = destination
                message = message.toVortexMsg()
        send = self._send
        if send is None:
            raise NoTransportError("the bus has no transport attached to send with")
        send(destination, message)

    def _send_handed_over(self, message: Outgoing, destination: Destination) -> None:
        try:
            self.send(message, destination)
        except Exception as e:
            logger.error("A send to %s made on another thread failed: %s",
                         _describe(destination), e)

    def send_reply(
        self, request: PayloadEnvelope, response: Outgoing, destination: Destination
    ) -> None:
        """Send ``response`` as the reply to ``request`` (its header ``r`` is set)."""
        if request.messageId is not None:
            if type(response) is not PayloadEnvelope:
                if isinstance(response, Payload):
                    response = response.makePayloadEnvelope(codec=self.codec)
                elif isinstance(response, bytes):
                    # Only the header is rewritten; the body bytes are sent as they are.
                    response = PayloadEnvelope.fromVortexMsg(response, self.codec)
            response.replyToId = request.messageId  # type: ignore[union-attr]
        self.send(response, destination)

    def request(
        self,
        message: Union[Payload, PayloadEnvelope],
        destination: Destination,
        timeout: Optional[float] = None,
    ) -> "Deferred[PayloadEnvelope]":
        """Send a request and get a Deferred firing with the reply envelope.

        The Deferred fails with :class:`RemoteError` if the reply carries an error, with
        :class:`ReplyTimeoutError` after ``timeout`` seconds, or with
        :class:`ConnectionLostError` via :meth:`fail_pending`. Cancelling it forgets the
        request (a later reply is dropped).
        """
        require_reactor_thread("PayloadRouter.request (an RPC call or action push)")
        if isinstance(message, Payload):
            envelope = message.makePayloadEnvelope(codec=self.codec)
        else:
            envelope = message
        if timeout is None:
            timeout = self.default_timeout
        message_id = f"{self._id_prefix}{next(self._ids)}"
        envelope.messageId = message_id
        pending = self._pending

        def cancel(_: Deferred) -> None:
            if pending.pop(message_id, None) is not None and not pending:
                self._disarm()

        deferred: Deferred[PayloadEnvelope] = Deferred(cancel)
        clock = self._clock or self.clock
        deadline = clock.seconds() + timeout
        entry = _Pending(deferred, deadline, destination, envelope.filt.get("key"), timeout)
        pending[message_id] = entry
        try:
            self.send(envelope, destination)
        except Exception as e:
            del pending[message_id]
            deferred.errback(e)
            return deferred
        # An in-process transport may have delivered the reply inside send already.
        if deadline < self._sweep_at and message_id in pending:
            self._arm(deadline)
        return deferred

    def _arm(self, deadline: float) -> None:
        """(Re)arm the one timeout timer for ``deadline``."""
        sweep = self._sweep
        if sweep is not None and sweep.active():
            sweep.cancel()
        clock = self.clock
        self._sweep_at = deadline
        self._sweep = clock.callLater(max(0.0, deadline - clock.seconds()), self._expire)

    def _disarm(self) -> None:
        sweep = self._sweep
        if sweep is not None and sweep.active():
            sweep.cancel()
        self._sweep = None
        self._sweep_at = _NEVER

    def _expire(self) -> None:
        """The timer fired: fail the requests that are due, re-arm for the next deadline."""
        # The clock may read a hair before the deadline the timer was computed from.
        now = max(self.clock.seconds(), self._sweep_at)
        self._sweep = None
        self._sweep_at = _NEVER
        due = [(mid, p) for mid, p in self._pending.items() if p.deadline <= now]
        for mid, _ in due:
            del self._pending[mid]
        for mid, entry in due:
            entry.deferred.errback(
                ReplyTimeoutError(mid, _describe(entry.destination), entry.key, entry.timeout)
            )
        # Errbacks may have sent new requests (and armed the timer); arm for the rest.
        if self._pending:
            nearest = min(p.deadline for p in self._pending.values())
            if nearest < self._sweep_at:
                self._arm(nearest)

    def fail_pending(self, destination: Destination, reason: str = "connection lost") -> int:
        """Fail every request waiting on ``destination`` (the transport calls this when a
        connection or every connection of a name is gone); returns how many failed."""
        doomed = [
            mid for mid, p in self._pending.items()
            if p.destination is destination
            or (isinstance(destination, str) and p.destination == destination)
        ]
        entries = [(mid, self._pending.pop(mid)) for mid in doomed]
        if not self._pending:
            self._disarm()
        for mid, entry in entries:
            entry.deferred.errback(
                ConnectionLostError(
                    f"request {mid} (filt key {entry.key!r}) to "
                    f"{_describe(entry.destination)} failed: {reason}"
                )
            )
        return len(doomed)

    @property
    def pending_count(self) -> int:
        """Requests still waiting for a reply."""
        return len(self._pending)

    def send_locally(self, message: Outgoing, sender: Optional[VortexSender] = None) -> None:
        """Deliver a message to this process's own endpoints, without a transport."""
        if isinstance(message, Payload):
            message = message.makePayloadEnvelope(codec=self.codec)
        if isinstance(message, bytes):
            message = PayloadEnvelope.fromVortexMsg(message, self.codec)
        self.deliver(message, sender or LocalSender())


_default_router = PayloadRouter()

#: The router of the simulated service whose code is running (see :func:`routing_through`).
_current_router: contextvars.ContextVar[Optional[PayloadRouter]] = contextvars.ContextVar(
    "peek_current_router", default=None
)


def default_router() -> PayloadRouter:
    """The process-wide router that endpoints register with unless given another.

    Inside :func:`routing_through` it is that block's router instead: how the test harness
    runs several services' plugins in one process, each on its own router.
    """
    return _current_router.get() or _default_router


def connection_events(router: Optional[PayloadRouter] = None) -> ConnectionEvents:
    """The connection notices of ``router`` (the default router when None): its
    ``connection_events`` attribute."""
    return (router or default_router()).connection_events


@contextmanager
def routing_through(router: PayloadRouter) -> Iterator[PayloadRouter]:
    """Make ``router`` the default router inside the block, and in the coroutines and
    Deferred callbacks started there (``peek_plugin_base.testing`` runs each simulated
    service's hooks and deliveries in one)."""
    token = _current_router.set(router)
    try:
        yield router
    finally:
        _current_router.reset(token)

