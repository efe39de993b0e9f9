"""TupleActionProcessor: runs each action once through its delegate and answers it once."""

import logging
from abc import ABCMeta, abstractmethod
from typing import Any, Optional, Union

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

from peek_vortex._aio import as_deferred
from peek_vortex.errors import (
    AccessDeniedError,
    ActionOutcomeUnavailableError,
    InvalidActionError,
    RoutingError,
    TupleActionRefusedError,
    UnknownActionTypeError,
    VortexError,
    error_reply,
)
from peek_vortex.handlers._action_outcomes import (
    DEFAULT_WINDOW_SECONDS,
    MAX_ACTION_ID_LENGTH,
    MAX_PROCESSOR_NAME_LENGTH,
    ActionOutcome,
    ActionOutcomeStore,
    MemoryActionOutcomeStore,
)
from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._call_support import Responder, error_envelope
from peek_vortex.routing._names import AcceptNames, accept_set
from peek_vortex.routing._router import PayloadRouter
from peek_vortex.tuples._actions import TupleActionABC, action_filt, action_type_name
from peek_vortex.tuples._tuples import Tuple
from peek_vortex.wire._codec import Payload, PayloadEnvelope

logger = logging.getLogger(__name__)


class TupleActionProcessorDelegateABC(metaclass=ABCMeta):
    """Processes the actions a :class:`TupleActionProcessor` hands it."""

    @abstractmethod
    def processTupleAction(self, tupleAction: TupleActionABC) -> Any:
        """Perform ``tupleAction``; return the result tuples (a list, one tuple or None),
        a Deferred of them, or be a coroutine. Raising (or failing the Deferred) answers
        with an error: a ``RemoteError(code, message)`` as it is, any other exception as
        its type name and ``"internal error, id <id>"`` (the traceback is logged under that
        id; see :func:`~peek_vortex.errors.error_reply`).

        Raise :class:`~peek_vortex.errors.TupleActionRefusedError` for a
        refusal that is final (a retry of the action gets it again without running);
        any other exception is transient and a retry runs the action again. Commit the
        action's effect before returning (or before the returned Deferred fires): the
        processor records the outcome only then."""


def _error_outcome(code: str, message: str) -> ActionOutcome:
    return ActionOutcome(b"", None, None, (code, message))


class TupleActionProcessor(HandlerBase):
    """Receives actions for ``tupleActionProcessorName`` and runs each through a delegate.

    Delegates are chosen by the action's tuple type (:meth:`setDelegate`), falling back to
    ``defaultDelegate``. Every action gets exactly one response: the delegate's result
    tuples, or an error.

    Actions are deduplicated by their ``uuid`` (the action id):

    - A success, or a final refusal (the delegate raised ``TupleActionRefusedError``), is
      recorded for the action id, and a repeated id is answered from that record (the
      same bytes) without running the delegate again.
    - Any other failure is answered and not recorded: a retry of the same id runs the
      delegate again (a database outage does not turn into permanent failures).
    - A repeat that arrives while the first run is still going waits for that run's
      answer; the delegate never runs twice at once for one id.
    - The outcome is recorded before the answer is sent. On the server the platform
      installs a durable record (the platform schema, see ``vortex.actionDedupSeconds``),
      so a retry after a server restart is still answered from it; elsewhere (and on an
      in-memory bus) the record is this processor's memory, at most ``dedupeMaxEntries``.
    - Records are kept ``dedupeSeconds`` (None: the platform's configured window, 600 s
      by default); after that a repeated id runs again.
    - If the record of the earlier outcome cannot be read, nothing runs and the answer is
      ``ActionOutcomeUnavailableError``; retry later.

    One processor (or proxy) per name and router: a second one is a ``RoutingError``.
    ``acceptOnlyFromVortex`` limits senders by their authenticated vortex name (through a
    client proxy, the sender is the client service); others get an ``AccessDeniedError``.

    Wire format (see :class:`~peek_vortex.wire._codec.VortexCodec` for the frame)
    -----------------------------------------------------------------------------------
    Request (encoded by :class:`~peek_vortex.handlers._action_push_client.
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
    ``InvalidActionError`` (not exactly one action, or no string ``uuid`` of at most 128
    characters), ``ActionOutcomeUnavailableError``, or the decode error's name (e.g.
    ``UnknownTupleTypeError`` for a type not registered here).
    A request without ``m`` is processed and not answered.
    """

    def __init__(
        self,
        tupleActionProcessorName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        defaultDelegate: Optional[TupleActionProcessorDelegateABC] = None,
        acceptOnlyFromVortex: AcceptNames = None,
        router: Optional[PayloadRouter] = None,
        dedupeSeconds: Optional[float] = None,
        dedupeMaxEntries: int = 10_000,
    ) -> None:
        if len(tupleActionProcessorName) > MAX_PROCESSOR_NAME_LENGTH:
            raise RoutingError(
                f"action processor name {tupleActionProcessorName[:40]!r}... is "
                f"{len(tupleActionProcessorName)} characters; at most "
                f"{MAX_PROCESSOR_NAME_LENGTH} are allowed"
            )
        super().__init__(router)
        self.tupleActionProcessorName = tupleActionProcessorName
        self.filt = action_filt(tupleActionProcessorName, additionalFilt)
        self._default_delegate = defaultDelegate
        self._delegates: dict[str, TupleActionProcessorDelegateABC] = {}
        self._accept = accept_set(acceptOnlyFromVortex)
        self._refused_logged: set[str] = set()
        self._dedupe_seconds = dedupeSeconds
        # The record when no store is installed on the router, and the fallback for
        # outcomes an installed store failed to record.
        self._memory = MemoryActionOutcomeStore(
            self._router.clock,
            DEFAULT_WINDOW_SECONDS if dedupeSeconds is None else dedupeSeconds,
            dedupeMaxEntries,
        )
        # Action ids being processed -> responders waiting for their outcome.
        self._running: dict[str, list[Responder]] = {}
        self._claim(self.filt["key"])
        self._listen(self.filt, self._on_action)
        self._own(f"tuple action processor {tupleActionProcessorName!r}")

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
    def cache(self) -> MemoryActionOutcomeStore:
        """The outcomes this processor remembers in memory (for inspection)."""
        return self._memory

    @property
    def runningCount(self) -> int:
        """How many action ids are being processed now."""
        return len(self._running)

    # ---- receiving

    def _refuse(self, respond: Responder, exc: VortexError) -> None:
        respond(error_envelope(exc.code, str(exc)))

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
            respond(error_envelope(e.code, str(e)))
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
        if (not isinstance(action_id, str) or not action_id
                or len(action_id) > MAX_ACTION_ID_LENGTH):
            shown = action_id if not isinstance(action_id, str) else action_id[:40]
            self._refuse(respond, InvalidActionError(
                f"action {action_type_name(action)} needs a string uuid of 1 to "
                f"{MAX_ACTION_ID_LENGTH} characters (got {shown!r})"
            ))
            return
        delegate = self.delegateFor(action.tupleName())
        if delegate is None:
            self._refuse(respond, UnknownActionTypeError(
                f"action processor {self.tupleActionProcessorName!r} has no delegate for "
                f"action type {action.tupleName()!r}"
            ))
            return
        waiting = self._running.get(action_id)
        if waiting is not None:
            logger.debug("Action %s %s repeated by %s while running: joins the first run",
                         action.tupleName(), action_id, vortexName)
            waiting.append(respond)
            return
        remembered = self._memory.get(self.tupleActionProcessorName, action_id)
        if remembered is not None:
            logger.debug("Action %s %s repeated by %s: answered from the first run",
                         action.tupleName(), action_id, vortexName)
            respond(remembered.envelope())
            return
        self._running[action_id] = [respond]
        d = Deferred.fromCoroutine(self._process(action, delegate, vortexName))
        d.addBoth(self._answer, action_id)

    async def _process(
        self, action: TupleActionABC, delegate: TupleActionProcessorDelegateABC,
        vortexName: str,
    ) -> ActionOutcome:
        """The action's outcome: recorded earlier, or from running the delegate now."""
        store: Optional[ActionOutcomeStore] = self._router.action_outcome_store
        if store is not None:
            try:
                recorded = await store.load(self.tupleActionProcessorName, action.uuid)
            except Exception:
                logger.exception(
                    "Action processor %r: cannot read the record of action %s, so it is not "
                    "run now (the sender may retry)", self.tupleActionProcessorName, action.uuid,
                )
                return _error_outcome(
                    ActionOutcomeUnavailableError.code,
                    "the record of earlier action outcomes is unavailable; nothing was run, "
                    "retry later",
                )
            if recorded is not None:
                logger.debug("Action %s %s repeated by %s: answered from the record",
                             action.tupleName(), action.uuid, vortexName)
                return recorded
        try:
            # as_deferred: a coroutine delegate runs as an asyncio Task (may use asyncio).
            result = await maybeDeferred(
                lambda: as_deferred(delegate.processTupleAction(action)))
        except TupleActionRefusedError:
            logger.info("Action processor %r: %s %s from %s refused for good: %s",
                        self.tupleActionProcessorName, action.tupleName(), action.uuid,
                        vortexName, Failure().getErrorMessage())
            outcome = _error_outcome(*error_reply(Failure(), logger, "refused action"))
        except Exception:
            return _error_outcome(*error_reply(
                Failure(), logger,
                f"Action processor {self.tupleActionProcessorName!r}: {action.tupleName()} "
                f"{action.uuid} from {vortexName} (not remembered: a retry runs it again)",
            ))
        else:
            try:
                outcome = self._encode(result)
            except Exception:
                # The delegate has done its work: running it again on a retry would repeat
                # it, so this error is final like a success.
                outcome = _error_outcome(*error_reply(
                    Failure(), logger,
                    f"Action processor {self.tupleActionProcessorName!r}: answering action "
                    f"{action.uuid}",
                ))
        await self._record(store, action.uuid, outcome)
        return outcome

    @staticmethod
    def _encode(result: Any) -> ActionOutcome:
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
        return ActionOutcome(
            envelope.encodedPayload, envelope.compression, envelope.inflatedSize, None
        )

    async def _record(
        self, store: Optional[ActionOutcomeStore], action_id: str, outcome: ActionOutcome
    ) -> None:
        """Record a final outcome before it is answered."""
        name = self.tupleActionProcessorName
        if store is None:
            await self._memory.save(name, action_id, outcome)
            return
        try:
            await store.save(name, action_id, outcome, self._dedupe_seconds)
        except Exception:
            # The effect has happened, so the answer is still the outcome; a failure
            # answer would make the sender retry and apply it again.
            logger.exception(
                "Action processor %r: could not record the outcome of action %s; it is "
                "remembered in this process only (a retry after a restart would run it "
                "again)", name, action_id,
            )
            window = self._dedupe_seconds
            await self._memory.save(
                name, action_id, outcome, store.window_seconds if window is None else window
            )

    def _answer(self, outcome: Union[ActionOutcome, Failure], action_id: str) -> None:
        """Send the outcome to everyone waiting for this action id."""
        if isinstance(outcome, Failure):
            # A bug in the processing itself: still exactly one answer each.
            outcome = _error_outcome(*error_reply(
                outcome, logger,
                f"Action processor {self.tupleActionProcessorName!r}: processing action "
                f"{action_id}",
            ))
        for respond in self._running.pop(action_id, []):
            respond(outcome.envelope())

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
