"""TupleActionProcessor: runs each action once through its delegate and answers it once."""

import logging
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from typing import Any, Optional, Union

from twisted.internet.defer import maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from peek_plugin_base.registrations import record_registration
from peek_plugin_base.vortex.actions import TupleActionABC, action_filt, action_type_name
from peek_plugin_base.vortex.call_errors import (
    AccessDeniedError,
    InvalidActionError,
    UnknownActionTypeError,
)
from peek_plugin_base.vortex.call_support import (
    AcceptNames,
    Responder,
    accept_set,
    claim_key,
    error_envelope,
    release_key,
)
from peek_plugin_base.vortex.error_reply import error_reply
from peek_plugin_base.vortex.errors import VortexError
from peek_plugin_base.vortex.payload import Payload, PayloadEnvelope
from peek_plugin_base.vortex.router import PayloadEndpoint, PayloadRouter, default_router
from peek_plugin_base.vortex.tuples import Tuple

logger = logging.getLogger(__name__)


class TupleActionProcessorDelegateABC(metaclass=ABCMeta):
    """Processes the actions a :class:`TupleActionProcessor` hands it."""

    @abstractmethod
    def processTupleAction(self, tupleAction: TupleActionABC) -> Any:
        """Perform ``tupleAction``; return the result tuples (a list, one tuple or None),
        a Deferred of them, or be a coroutine. Raising (or failing the Deferred) answers
        with an error: a ``RemoteError(code, message)`` as it is, any other exception as
        its type name and ``"internal error, id <id>"`` (the traceback is logged under that
        id; see :func:`~peek_plugin_base.vortex.error_reply.error_reply`)."""


class _Response:
    """One action's encoded response, kept so retries get the very same answer."""

    __slots__ = ("body", "compression", "inflated_size", "error", "expires")

    def __init__(
        self, body: bytes, compression: Optional[str], inflated_size: Optional[int],
        error: Optional[tuple[str, str]], expires: float,
    ) -> None:
        self.body = body
        self.compression = compression
        self.inflated_size = inflated_size
        self.error = error
        self.expires = expires

    def envelope(self) -> PayloadEnvelope:
        # A fresh envelope per reply: sending one stamps it with that request's id.
        return PayloadEnvelope(
            filt={}, encodedPayload=self.body, compression=self.compression,
            inflatedSize=self.inflated_size, error=self.error,
        )


class ActionResponseCache:
    """Responses of recent actions by action id, and the responders waiting on running ones.

    Finished responses are kept ``ttl_seconds`` on ``clock`` and at most ``max_entries`` of
    them (oldest dropped first); a retry after that runs the action again.
    """

    def __init__(self, clock: IReactorTime, ttl_seconds: float, max_entries: int) -> None:
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._running: dict[str, list[Responder]] = {}
        # Finished responses in completion order, so expiry only ever looks at the front.
        self._done: OrderedDict[str, _Response] = OrderedDict()

    def _expire(self) -> None:
        now = self.clock.seconds()
        while self._done:
            action_id, response = next(iter(self._done.items()))
            if response.expires > now and len(self._done) <= self.max_entries:
                break
            del self._done[action_id]

    def lookup(self, action_id: str, respond: Responder) -> bool:
        """Answer or park a repeated action id; False when the id is new (now running)."""
        self._expire()
        response = self._done.get(action_id)
        if response is not None:
            respond(response.envelope())
            return True
        waiting = self._running.get(action_id)
        if waiting is not None:
            waiting.append(respond)
            return True
        self._running[action_id] = [respond]
        return False

    def finish(
        self, action_id: str, body: bytes, compression: Optional[str],
        inflated_size: Optional[int], error: Optional[tuple[str, str]],
    ) -> None:
        """Store the response and send it to everyone waiting for this action id."""
        response = _Response(
            body, compression, inflated_size, error, self.clock.seconds() + self.ttl_seconds
        )
        self._done[action_id] = response
        self._expire()
        for respond in self._running.pop(action_id, []):
            respond(response.envelope())

    def __len__(self) -> int:
        return len(self._done)

    @property
    def running_count(self) -> int:
        return len(self._running)


class TupleActionProcessor:
    """Receives actions for ``tupleActionProcessorName`` and runs each through a delegate.

    Delegates are chosen by the action's tuple type (:meth:`setDelegate`), falling back to
    ``defaultDelegate``. Every action gets exactly one response: the delegate's result
    tuples, or an error. Actions are deduplicated by their ``uuid``: a repeated id gets the
    first response (the same bytes) without running the delegate again, and a repeat that
    arrives while the first is still running waits for that same response. Responses are
    remembered ``dedupeSeconds`` on the router's clock, at most ``dedupeMaxEntries``.

    One processor (or proxy) per name and router: a second one is a ``RoutingError``.
    ``acceptOnlyFromVortex`` limits senders by their authenticated vortex name (through a
    client proxy, the sender is the client service); others get an ``AccessDeniedError``.

    Wire format (see :class:`~peek_plugin_base.vortex.codec.VortexCodec` for the frame)
    ----------------------------------------------------------------------------------
    Request (encoded by :class:`~peek_plugin_base.vortex.action_push_client.
    TupleActionPushClient`, or by a device): header ``f`` =
    ``{**additionalFilt, "key": "vortex.action.<tupleActionProcessorName>"}``, a message id
    ``m``, and a body holding exactly one registered ``TupleActionABC`` tuple (its fields
    ``uuid`` and ``dateTime`` plus its own).

    Response (encoded here): ``f`` = ``{}``, ``r`` = the request's ``m``, and either a body
    with the result tuples (empty when there are none) or ``e`` = ``[code, message]``:
    the delegate's ``RemoteError`` code and message, or for any other exception its type
    name and ``"internal error, id <id>"`` (the detail is in the log under that id),
    ``AccessDeniedError``,
    ``UnknownActionTypeError`` (no delegate for the type, named in the message),
    ``InvalidActionError`` (not exactly one action, or no string ``uuid``), or the decode
    error's name (e.g. ``UnknownTupleTypeError`` for a type not registered here).
    A request without ``m`` is processed and not answered.
    """

    def __init__(
        self,
        tupleActionProcessorName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        defaultDelegate: Optional[TupleActionProcessorDelegateABC] = None,
        acceptOnlyFromVortex: AcceptNames = None,
        router: Optional[PayloadRouter] = None,
        dedupeSeconds: float = 600.0,
        dedupeMaxEntries: int = 10_000,
    ) -> None:
        self.tupleActionProcessorName = tupleActionProcessorName
        self.filt = action_filt(tupleActionProcessorName, additionalFilt)
        self._default_delegate = defaultDelegate
        self._delegates: dict[str, TupleActionProcessorDelegateABC] = {}
        self._accept = accept_set(acceptOnlyFromVortex)
        self._refused_logged: set[str] = set()
        self._router = router or default_router()
        self._cache = ActionResponseCache(self._router.clock, dedupeSeconds, dedupeMaxEntries)
        claim_key(self._router, self.filt["key"], self)
        self._endpoint = PayloadEndpoint(self.filt, self._on_action, router=self._router)
        record_registration(
            f"tuple action processor {tupleActionProcessorName!r}", self.shutdown
        )

    def setDelegate(
        self, tupleAction: Union[str, type], delegate: TupleActionProcessorDelegateABC
    ) -> None:
        """Send actions of one type (a ``TupleActionABC`` class or type name) to ``delegate``."""
        name = tupleAction if isinstance(tupleAction, str) else tupleAction.tupleName()
        self._delegates[name] = delegate

    def delegateFor(self, tupleName: str) -> Optional[TupleActionProcessorDelegateABC]:
        """The delegate that would process actions of type ``tupleName`` (or None)."""
        return self._delegates.get(tupleName, self._default_delegate)

    @property
    def cache(self) -> ActionResponseCache:
        """The dedupe cache (for inspection)."""
        return self._cache

    def shutdown(self) -> None:
        """Stop receiving actions; safe to call more than once."""
        self._endpoint.shutdown()
        release_key(self._router, self.filt["key"], self)

    # ---- receiving

    def _refuse(self, respond: Responder, exc: VortexError) -> None:
        respond(error_envelope(type(exc).__name__, str(exc)))

    def _on_action(
        self,
        payloadEnvelope: PayloadEnvelope,
        vortexName: str,
        vortexUuid: str,
        sendResponse: Responder,
    ) -> None:
        if payloadEnvelope.messageId is None:
            def respond(envelope: PayloadEnvelope) -> None:
                logger.debug("Action response not sent: the request to %s had no message id",
                             self.tupleActionProcessorName)
        else:
            respond = self._safe(sendResponse, vortexName)
        if self._accept is not None and vortexName not in self._accept:
            self._log_refusal(vortexName)
            self._refuse(respond, AccessDeniedError(
                f"action processor {self.tupleActionProcessorName!r} does not accept actions "
                f"from vortex {vortexName!r}"
            ))
            return
        try:
            tuples = payloadEnvelope.decodePayload().tuples
        except VortexError as e:
            logger.warning("Action processor %r: undecodable action from %s (%s): %s",
                           self.tupleActionProcessorName, vortexName, vortexUuid, e)
            respond(error_envelope(type(e).__name__, str(e)))
            return
        if len(tuples) != 1 or not isinstance(tuples[0], TupleActionABC):
            got = ", ".join(action_type_name(t) for t in tuples) or "nothing"
            self._refuse(respond, InvalidActionError(
                f"action processor {self.tupleActionProcessorName!r} expects exactly one "
                f"TupleActionABC tuple, got {got}"
            ))
            return
        action = tuples[0]
        action_id = action.uuid
        if not isinstance(action_id, str) or not action_id:
            self._refuse(respond, InvalidActionError(
                f"action {action_type_name(action)} has no string uuid (got {action_id!r})"
            ))
            return
        delegate = self.delegateFor(action.tupleName())
        if delegate is None:
            self._refuse(respond, UnknownActionTypeError(
                f"action processor {self.tupleActionProcessorName!r} has no delegate for "
                f"action type {action.tupleName()!r}"
            ))
            return
        if self._cache.lookup(action_id, respond):
            logger.debug("Action %s %s repeated by %s: answered from the first run",
                         action.tupleName(), action_id, vortexName)
            return
        d = maybeDeferred(delegate.processTupleAction, action)
        d.addCallbacks(
            self._succeeded, self._failed,
            callbackArgs=(action_id,), errbackArgs=(action, vortexName),
        )
        d.addErrback(self._internal_error, action_id)

    def _succeeded(self, result: Any, action_id: str) -> None:
        if result is None:
            tuples: list[Any] = []
        elif isinstance(result, Tuple):
            tuples = [result]
        elif isinstance(result, (list, tuple)):
            tuples = list(result)
        else:
            raise TypeError(
                f"the delegate returned {type(result).__name__}; expected a list of tuples, "
                "one tuple or None"
            )
        envelope = Payload(tuples=tuples).makePayloadEnvelope()
        self._cache.finish(
            action_id, envelope.encodedPayload, envelope.compression, envelope.inflatedSize,
            None,
        )

    def _failed(self, failure: Failure, action: TupleActionABC, vortexName: str) -> None:
        error = error_reply(
            failure, logger, f"Action processor {self.tupleActionProcessorName!r}: "
            f"{action.tupleName()} {action.uuid} from {vortexName}")
        self._cache.finish(action.uuid, b"", None, None, error)

    def _internal_error(self, failure: Failure, action_id: str) -> None:
        # The result could not be encoded (or was not tuples): still exactly one answer.
        error = error_reply(
            failure, logger, f"Action processor {self.tupleActionProcessorName!r}: answering "
            f"action {action_id}")
        self._cache.finish(action_id, b"", None, None, error)

    def _safe(self, sendResponse: Responder, vortexName: str) -> Responder:
        def respond(envelope: PayloadEnvelope) -> None:
            try:
                sendResponse(envelope)
            except Exception as e:  # a dead connection must not break the other waiters
                logger.warning("Action processor %r: could not answer %s: %s",
                               self.tupleActionProcessorName, vortexName, e)

        return respond

    def _log_refusal(self, vortexName: str) -> None:
        # One warning per sender name; repeats from the same sender would only flood the log.
        level = logging.DEBUG if vortexName in self._refused_logged else logging.WARNING
        self._refused_logged.add(vortexName)
        logger.log(level, "Action processor %r refused actions from vortex %r (not in %s)",
                   self.tupleActionProcessorName, vortexName, sorted(self._accept or ()))

    def __repr__(self) -> str:
        return f"TupleActionProcessor({self.tupleActionProcessorName!r}, filt={self.filt!r})"
