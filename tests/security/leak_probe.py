"""Entry hooks of ``fx_sec_leak_probe``, the fixture plugin of the notify-thread and leak tests.

- server: an observable ``fx_sec_leak_probe`` with two providers: ``NotifyTuple`` (the last
  notify made by a plain ``threading.Thread`` every NOTIFY_SECONDS, with the wall-clock
  time just before it called ``notifyOfTupleUpdate``) and ``LeakyTuple`` (fails like a
  database query: a SQLAlchemy OperationalError carrying a SQL statement and the database
  server's host and port); an action processor whose delegate fails the same way in a
  database thread; for services, an RPC and a raw payload endpoint that fail the same way.
- client: a proxy of the observable and of the action processor for devices.
"""

import logging
import threading
import time
from typing import Any, Optional

from sqlalchemy.exc import OperationalError
from twisted.internet.defer import Deferred

from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.PeekVortexUtil import peekAgentName, peekServerName
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import (
    Payload,
    PayloadEndpoint,
    Tuple,
    TupleActionABC,
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
    TupleActionProcessorProxy,
    TupleDataObservableHandler,
    TupleDataObservableProxyHandler,
    TupleField,
    TupleSelector,
    TuplesProviderABC,
    addTupleType,
    deferToThreadWrap,
    vortexRPC,
)

logger = logging.getLogger(__name__)

FILT = {"plugin": "fx_sec_leak_probe"}
OBSERVABLE = "fx_sec_leak_probe"
ACTIONS = "fx_sec_leak_probe"
ENDPOINT_FILT = {"key": "fx_sec_leak_probe.query", **FILT}
NOTIFY_SECONDS = 0.3

#: What the failing "query" carries; none of it may reach a peer.
SQL = "SELECT accounts.secret FROM pl_fx.accounts WHERE accounts.id = %(id)s"
DB_HOST = "db.internal.example"
DB_ADDRESS = "10.20.30.40"
DB_PORT = "6543"
SECRETS = ("SELECT", "pl_fx", "accounts", DB_HOST, DB_ADDRESS, DB_PORT, "password")


def database_failure() -> OperationalError:
    """The error a driver raises when the database refuses the connection mid-query."""
    return OperationalError(
        SQL, {"id": 7},
        Exception(f'connection to server at "{DB_HOST}" ({DB_ADDRESS}), port {DB_PORT} '
                  'failed: FATAL: password authentication failed for user "peek"'))


@addTupleType
class NotifyTuple(Tuple):
    """The last notify of the plugin's thread: its number and when it was made."""

    __tupleType__ = "fx_sec_leak_probe.NotifyTuple"

    seq = TupleField()
    notifiedAt = TupleField()


@addTupleType
class LeakyTuple(Tuple):
    """Never served: its provider fails like a database query."""

    __tupleType__ = "fx_sec_leak_probe.LeakyTuple"


@addTupleType
class QueryAction(TupleActionABC):
    """An action whose processing queries the (unreachable) database."""

    __tupleType__ = "fx_sec_leak_probe.QueryAction"


NOTIFY_SELECTOR = TupleSelector(NotifyTuple.tupleName(), {})
LEAKY_SELECTOR = TupleSelector(LeakyTuple.tupleName(), {})


class _Notifier:
    """A plain thread that notifies the observable, the way plugin code in a database
    thread does after a commit; the reactor has nothing else to do meanwhile."""

    def __init__(self, observable: TupleDataObservableHandler) -> None:
        self._observable = observable
        self._stop = threading.Event()
        self.seq = 0
        self.notifiedAt = 0.0
        self._thread = threading.Thread(target=self._run, name="fx-notifier", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(NOTIFY_SECONDS):
            self.seq += 1
            self.notifiedAt = time.time()
            self._observable.notifyOfTupleUpdate(NOTIFY_SELECTOR)

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join()


class _NotifyProvider(TuplesProviderABC):
    def __init__(self, notifier: _Notifier) -> None:
        self._notifier = notifier

    def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        n = self._notifier
        return Payload(filt, [NotifyTuple(seq=n.seq, notifiedAt=n.notifiedAt)]).toVortexMsg()


class _LeakyProvider(TuplesProviderABC):
    @deferToThreadWrap
    def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        raise database_failure()


class _QueryDelegate(TupleActionProcessorDelegateABC):
    @deferToThreadWrap
    def processTupleAction(self, tupleAction: TupleActionABC) -> list[Any]:
        raise database_failure()


class FixtureRpc:
    """An RPC for the agent that fails like a database query."""

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=FILT)
    def query(self) -> None:
        raise database_failure()


def _raw_query(**_: Any) -> "Deferred[None]":
    return _threaded_query()


@deferToThreadWrap
def _threaded_query() -> None:
    raise database_failure()


class FixtureServerHook(PluginServerEntryHookABC):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: list[Any] = []

    def load(self) -> None:
        pass

    def start(self) -> None:
        observable = TupleDataObservableHandler(OBSERVABLE, additionalFilt=FILT)
        notifier = _Notifier(observable)
        observable.addTupleProvider(NotifyTuple.tupleName(), _NotifyProvider(notifier))
        observable.addTupleProvider(LeakyTuple.tupleName(), _LeakyProvider())
        processor = TupleActionProcessor(ACTIONS, additionalFilt=FILT,
                                         defaultDelegate=_QueryDelegate())
        rpcs = FixtureRpc()
        endpoint = PayloadEndpoint(ENDPOINT_FILT, _raw_query, acceptOnlyFromVortex=peekAgentName)
        self._loaded = [notifier, observable, processor, FixtureRpc.query.start(funcSelf=rpcs),
                        endpoint]

    def stop(self) -> None:
        while self._loaded:
            self._loaded.pop().shutdown()

    def unload(self) -> None:
        pass


class FixtureClientHook(PluginClientEntryHookABC):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: list[Any] = []

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._loaded = [
            TupleDataObservableProxyHandler(OBSERVABLE, peekServerName, additionalFilt=FILT),
            TupleActionProcessorProxy(ACTIONS, peekServerName, additionalFilt=FILT),
        ]

    def stop(self) -> None:
        while self._loaded:
            self._loaded.pop().shutdown()

    def unload(self) -> None:
        pass


def peekServerEntryHook() -> type[PluginServerEntryHookABC]:
    return FixtureServerHook


def peekClientEntryHook() -> Optional[type[PluginClientEntryHookABC]]:
    return FixtureClientHook
