"""Server-side observable data: providers, a per-selector cache, coalesced pushes to subscribers.

How a subscriber can never be left on a stale state
---------------------------------------------------
Per selector there is at most ONE provider run in flight, and runs are started only
after the notify they answer. A notify that arrives while a run is in flight marks the
selector dirty; when that run finishes, one more run is queued (however many notifies
came meanwhile). So after the last notify there is always a run that started after it,
and its result is the newest update sent. Each result gets a version from a counter of
the handler, in completion order, which for one selector is also start order: versions
never go backwards, and receivers drop anything not newer than what they hold (see
:class:`~peek_vortex.handlers._observable_wire.ObservableMessages`). Results are
delivered on the reactor thread as soon as the provider finishes, to every subscriber
in one loop, as the same bytes; a new subscriber gets the cached bytes first and every
later result after. Compare VortexPY, which ran providers concurrently and ordered
results by wall-clock date: an older read could win.
"""

import inspect
import itertools
import logging
import os
from abc import ABCMeta, abstractmethod
from typing import Any, Optional, Union

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from peek_vortex._aio import as_deferred
from peek_vortex._log_throttle import LogThrottle
from peek_vortex.errors import error_reply
from peek_vortex.handlers._base import HandlerBase
from peek_vortex.handlers._observable_wire import (
    OP_POLL,
    OP_SUBSCRIBE,
    OP_UNSUBSCRIBE,
    TOO_MANY_SUBSCRIPTIONS,
    ObservableMessages,
    ProviderResult,
    send_quietly,
    subscription_refusal,
)
from peek_vortex.handlers._subscribers import SendResponse, SubscriberTable
from peek_vortex.routing._names import AcceptNames
from peek_vortex.routing._router import (
    PayloadRouter,
    VortexSender,
    hand_to_reactor_thread,
    on_reactor_thread,
)
from peek_vortex.tuples._selector import TupleSelector
from peek_vortex.wire._codec import PayloadEnvelope

logger = logging.getLogger(__name__)

#: A peer can repeat a refused request as fast as it likes; the log gets a count.
_refusals = LogThrottle(logger)


class TuplesProviderABC(metaclass=ABCMeta):
    """Produces the current data for a selector, as a complete bus message.

    ``makeVortexMsg`` returns ``Payload(filt, tuples).toVortexMsg()`` bytes, or a
    Deferred (or coroutine) of them; decorate it with
    :func:`~peek_vortex.routing._threads.deferToThreadWrap` when it blocks (database
    queries). The message's filt does not matter: the handler replaces the header and
    keeps the encoded tuples as they are. A Payload or PayloadEnvelope is accepted too.
    """

    @abstractmethod
    def makeVortexMsg(
        self, filt: dict[str, Any], tupleSelector: TupleSelector
    ) -> Union[ProviderResult, "Deferred[ProviderResult]"]:
        """The message holding the tuples ``tupleSelector`` selects, as of now."""


def _await_coroutine(result: Any) -> Any:
    # as_deferred: on the asyncio reactor the provider runs as an asyncio Task.
    return as_deferred(result) if inspect.iscoroutine(result) else result


class _Selection:
    """The server state of one selector: subscribers, cache and the provider run cycle."""

    __slots__ = (
        "selector", "key", "provider", "subscribers", "waiters", "cache", "version",
        "running", "dirty", "scheduled", "runs_started",
    )

    def __init__(
        self, selector: TupleSelector, key: str, provider: TuplesProviderABC,
        subscribers: dict[str, SendResponse],
    ) -> None:
        self.selector = selector
        self.key = key
        self.provider = provider
        # vortex uuid -> how to send to that subscriber's connection (the handler's
        # SubscriberTable entry for this key)
        self.subscribers = subscribers
        # polls waiting for a run: (number of the run that answers them, reply callable)
        self.waiters: list[tuple[int, SendResponse]] = []
        self.cache: Optional[bytes] = None
        self.version = 0
        self.running = False
        self.dirty = False
        self.scheduled: Optional[IDelayedCall] = None
        self.runs_started = 0

    @property
    def idle(self) -> bool:
        return not self.running and self.scheduled is None

    @property
    def unused(self) -> bool:
        return not self.subscribers and not self.waiters


class TupleDataObservableHandler(HandlerBase):
    """Serves observable data for one ``observableName`` to subscribers on other services.

    Register a provider per tuple name with :meth:`addTupleProvider`; call
    :meth:`notifyOfTupleUpdate` whenever data a selector covers may have changed.
    Subscribers (a :class:`~peek_vortex.handlers._observer_client.TupleDataObserverClient`
    or a :class:`~peek_vortex.handlers._observable_proxy.TupleDataObservableProxyHandler`
    on a client service) first get the current data, then every later state in order.

    Notifies are coalesced: a burst of notifies for one selector, however fast, costs at
    most the run in flight plus one more. A provider run happens on the next reactor
    turn after a notify (so notifies made in one loop cost one run), and only for
    selectors someone subscribes to; unwatched selectors keep no state and no cache.

    One connection may watch at most ``vortex.maxSubscriptionsPerConnection`` selectors
    of one handler; a subscribe beyond that gets an ``error`` message with the code
    ``TooManySubscriptions`` and runs no provider.

    Subscriptions belong to the subscribing connection (its vortex uuid) and are dropped
    when it closes (through its router's ``connection_events``).
    The handler records itself with the loading plugin, so unloading the plugin shuts it
    down.

    Typical wiring (the seed's tutorial, with our imports)::

        # server service, in start()
        observable = TupleDataObservableHandler(
            observableName=tutorialObservableName, additionalFilt=tutorialFilt)
        observable.addTupleProvider(StringIntTuple.tupleName(), StringIntTupleProvider())
        ...
        observable.notifyOfTupleUpdate(TupleSelector(StringIntTuple.tupleName(), {}))

        # client service, in start()
        TupleDataObservableProxyHandler(
            observableName=tutorialObservableName, proxyToVortexName=peekServerName,
            additionalFilt=tutorialFilt)

        # a Python device or test
        observer = TupleDataObserverClient(
            observableName=tutorialObservableName, destVortexName=peekClientName,
            additionalFilt=tutorialFilt)
        rows = observer.subscribeToTupleSelector(TupleSelector(StringIntTuple.tupleName(), {}))
        rows.subscribe(lambda tuples: print(tuples))
    """

    def __init__(
        self,
        observableName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        router: Optional[PayloadRouter] = None,
        acceptOnlyFromVortex: AcceptNames = None,
    ) -> None:
        super().__init__(router)
        self._messages = ObservableMessages(observableName, additionalFilt)
        self._providers: dict[str, TuplesProviderABC] = {}
        self._selections: dict[str, _Selection] = {}
        self._subscribers = SubscriberTable()
        self._versions = itertools.count(1)
        #: Names this handler instance; receivers accept any version of a new epoch.
        self.epoch = os.urandom(6).hex()
        #: How many times a provider was called (for tests and stats).
        self.providerRuns = 0
        for op, callback in (
            (OP_SUBSCRIBE, self._on_subscribe),
            (OP_UNSUBSCRIBE, self._on_unsubscribe),
            (OP_POLL, self._on_poll),
        ):
            self._listen(self._messages.endpoint_filt(op), callback, acceptOnlyFromVortex)
        self._events = self._listen_to_connections()
        self._own(f"observable {observableName!r}")

    @property
    def observableName(self) -> str:
        return self._messages.observableName

    # ---- plugin API

    def addTupleProvider(self, tupleName: str, provider: TuplesProviderABC) -> None:
        """Serve selectors whose ``name`` is ``tupleName`` from ``provider``."""
        if tupleName in self._providers:
            raise ValueError(
                f"observable {self.observableName!r} already has a provider for {tupleName!r}"
            )
        if not callable(getattr(provider, "makeVortexMsg", None)):
            raise TypeError(f"a tuple provider needs a makeVortexMsg method, got {provider!r}")
        self._providers[tupleName] = provider

    def hasTupleProvider(self, tupleName: str) -> bool:
        return tupleName in self._providers

    def notifyOfTupleUpdate(self, tupleSelector: TupleSelector) -> None:
        """The data of ``tupleSelector`` may have changed: push it to its subscribers.

        Safe from any thread (e.g. inside a ``deferToThreadWrap`` function right after the
        commit): off the reactor thread the notify is handed to the reactor thread, which
        wakes at once; on it, it runs directly.
        """
        if not on_reactor_thread():
            hand_to_reactor_thread(self.notifyOfTupleUpdate, tupleSelector)
            return
        selection = self._selections.get(tupleSelector.toJsonStr())
        if selection is not None:
            self._invalidate(selection)

    def notifyOfTupleUpdateForTuple(self, tupleName: str) -> None:
        """Data of type ``tupleName`` may have changed: refresh every selector of that name.

        Safe from any thread, like :meth:`notifyOfTupleUpdate`.
        """
        if not on_reactor_thread():
            hand_to_reactor_thread(self.notifyOfTupleUpdateForTuple, tupleName)
            return
        for selection in list(self._selections.values()):
            if selection.selector.name == tupleName:
                self._invalidate(selection)

    def _on_shutdown(self) -> None:
        """After the endpoints are off: pending runs cancelled, waiting polls answered,
        state dropped."""
        for selection in self._selections.values():
            if selection.scheduled is not None and selection.scheduled.active():
                selection.scheduled.cancel()
            selection.scheduled = None
            # Polls waiting for a run that will never come get an answer, not a timeout.
            for _, send in selection.waiters:
                send_quietly(
                    send,
                    self._messages.error(
                        selection.key, "ObservableShutdown",
                        f"observable {self.observableName!r} shut down",
                    ),
                    "a shutdown error",
                )
            selection.waiters = []
        self._selections.clear()
        self._subscribers.clear()

    # ---- introspection (tests, admin pages)

    def subscriberCount(self, tupleSelector: TupleSelector) -> int:
        return self._subscribers.count(tupleSelector.toJsonStr())

    @property
    def watchedSelectorCount(self) -> int:
        return len(self._selections)

    # ---- connection notices

    def on_connection_open(self, connection: VortexSender) -> None:
        """Nothing to do: subscribers (re)subscribe themselves."""

    def on_connection_lost(self, connection: VortexSender) -> None:
        """Drop the subscriptions of a closed connection (unless its uuid is still open)."""
        uuid = connection.vortex_uuid
        if self._events.is_uuid_connected(uuid):
            # A peer that reconnected before its old connection was noticed dead keeps its
            # subscriptions; its resubscribe has replaced (or will replace) the send path.
            return
        for key in self._subscribers.drop(uuid):
            selection = self._selections.get(key)
            if selection is not None:
                self._drop_if_unused(selection)

    # ---- endpoints

    def _selection_for(
        self, envelope: PayloadEnvelope, sendResponse: SendResponse
    ) -> Optional[_Selection]:
        """The selection a request is about (created if new), or None after an error reply."""
        key = ObservableMessages.selector_key(envelope)
        selection = self._selections.get(key)
        if selection is not None:
            return selection
        try:
            selector = TupleSelector.fromJsonStr(key)
        except Exception as e:
            self._reject(envelope, key, sendResponse, "BadTupleSelector", f"{key!r}: {e}")
            return None
        provider = self._providers.get(selector.name)
        if provider is None:
            self._reject(
                envelope, key, sendResponse, "NoTupleProvider",
                f"observable {self.observableName!r} has no provider for tuple name "
                f"{selector.name!r}",
            )
            return None
        selection = self._selections[key] = _Selection(
            selector, key, provider, self._subscribers.open(key))
        return selection

    def _reject(
        self, envelope: PayloadEnvelope, key: str, sendResponse: SendResponse, code: str,
        message: str,
    ) -> None:
        _refusals.log((self.observableName, code), f"Observable {self.observableName!r} refused"
                      f" requests ({code})", "Observable %r refused a request: %s",
                      self.observableName, message)
        send_quietly(sendResponse, self._messages.error(key, code, message), "an error")

    def _on_subscribe(
        self, payloadEnvelope: PayloadEnvelope, vortexUuid: str, sendResponse: SendResponse,
        **_: Any,
    ) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        refusal = subscription_refusal(
            self.observableName, self._subscribers.keys_of(vortexUuid), key,
            self._router.max_subscriptions_per_connection)
        if refusal is not None:
            self._reject(payloadEnvelope, key, sendResponse, TOO_MANY_SUBSCRIPTIONS, refusal)
            return
        selection = self._selection_for(payloadEnvelope, sendResponse)
        if selection is None:
            return
        self._subscribers.add(selection.key, vortexUuid, sendResponse)
        if selection.cache is not None:
            send_quietly(sendResponse, selection.cache, f"data of {selection.key}")
        elif selection.idle:
            self._schedule(selection)

    def _on_unsubscribe(self, payloadEnvelope: PayloadEnvelope, vortexUuid: str, **_: Any) -> None:
        key = ObservableMessages.selector_key(payloadEnvelope)
        self._subscribers.remove(key, vortexUuid)
        selection = self._selections.get(key)
        if selection is not None:
            self._drop_if_unused(selection)

    def _on_poll(
        self, payloadEnvelope: PayloadEnvelope, sendResponse: SendResponse, **_: Any
    ) -> None:
        selection = self._selection_for(payloadEnvelope, sendResponse)
        if selection is None:
            return
        if selection.cache is not None and selection.idle:
            send_quietly(sendResponse, selection.cache, f"poll reply for {selection.key}")
            return
        # The run in flight answers the poll unless a notify came after it started.
        needed = selection.runs_started + (0 if selection.running and not selection.dirty else 1)
        selection.waiters.append((needed, sendResponse))
        if selection.idle:
            self._schedule(selection)

    # ---- the provider run cycle

    def _invalidate(self, selection: _Selection) -> None:
        if selection.running:
            selection.dirty = True
        elif selection.scheduled is None:
            self._schedule(selection)

    def _schedule(self, selection: _Selection) -> None:
        selection.scheduled = self._router.clock.callLater(0, self._run, selection)

    def _run(self, selection: _Selection) -> None:
        selection.scheduled = None
        if not self.active or self._selections.get(selection.key) is not selection:
            return
        selection.running = True
        selection.dirty = False
        selection.runs_started += 1
        run = selection.runs_started
        self.providerRuns += 1
        d = maybeDeferred(
            selection.provider.makeVortexMsg,
            self._messages.provider_filt(selection.key),
            selection.selector,
        )
        d.addCallback(_await_coroutine)
        d.addCallbacks(
            lambda provided: self._ran(selection, run, provided),
            lambda failure: self._failed(selection, run, failure),
        )
        d.addErrback(
            lambda failure: logger.error(
                "Observable %r: delivering %s failed: %s",
                self.observableName, selection.key, failure.getTraceback(),
            )
        )

    def _ran(self, selection: _Selection, run: int, provided: ProviderResult) -> None:
        selection.running = False
        if not self._current(selection):
            return
        try:
            version = next(self._versions)
            data = self._messages.update(provided, selection.key, version, self.epoch)
        except Exception:
            self._failed(selection, run, Failure())
            return
        selection.cache = data
        selection.version = version
        what = f"data of {selection.key}"
        for send in list(selection.subscribers.values()):
            send_quietly(send, data, what)
        for send in self._answered_waiters(selection, run):
            send_quietly(send, data, f"poll reply for {selection.key}")
        self._after_run(selection)

    def _failed(self, selection: _Selection, run: int, failure: Failure) -> None:
        selection.running = False
        if not self._current(selection):
            return
        code, message = error_reply(
            failure, logger,
            f"Observable {self.observableName!r}: the provider for {selection.key}")
        error = self._messages.error(selection.key, code, message)
        if selection.subscribers:
            data = error.toVortexMsg()
            for send in list(selection.subscribers.values()):
                send_quietly(send, data, f"error of {selection.key}")
        for send in self._answered_waiters(selection, run):
            send_quietly(send, PayloadEnvelope(filt=error.filt, error=error.error), "poll error")
        self._after_run(selection)

    def _current(self, selection: _Selection) -> bool:
        return self.active and self._selections.get(selection.key) is selection

    @staticmethod
    def _answered_waiters(selection: _Selection, run: int) -> list[SendResponse]:
        answered = [send for needed, send in selection.waiters if needed <= run]
        if answered:
            selection.waiters = [(n, s) for n, s in selection.waiters if n > run]
        return answered

    def _after_run(self, selection: _Selection) -> None:
        if selection.unused:
            self._drop_if_unused(selection)
        elif selection.dirty or selection.waiters:
            self._schedule(selection)

    def _drop_if_unused(self, selection: _Selection) -> None:
        # A run in flight finishes first (its result is discarded by _after_run's drop).
        if not selection.unused or selection.running:
            return
        if selection.scheduled is not None and selection.scheduled.active():
            selection.scheduled.cancel()
        selection.scheduled = None
        if self._selections.get(selection.key) is selection:
            del self._selections[selection.key]
            self._subscribers.close(selection.key)
