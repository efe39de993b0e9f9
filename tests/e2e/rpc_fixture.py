"""Entry hooks of ``fx_e2e_rpc``, the fixture plugin the reconnect end-to-end test enables.

- server: an observable ``fx_e2e_rpc`` serving one ``ServerBootTuple`` (this server's pid
  and how many times a server started on this home), and two RPCs for the agent:
  ``ping`` (answers the pid) and ``hang`` (never answers).
- client: a proxy of that observable for devices.
- agent: a prober calling ``ping`` every 0.2 s, logging each change of outcome at INFO
  (``fx probe: ok ...`` / ``fx probe: failed after <s>s: <Error>: ...``), and one
  ``hang`` call per connection, logging how it ended (``fx hang call ended after ...``).
"""

import logging
import os
import time
from typing import Any, Optional

from twisted.internet import task
from twisted.internet.defer import Deferred

from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.PeekVortexUtil import peekAgentName, peekServerName
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import (
    Payload,
    Tuple,
    TupleDataObservableHandler,
    TupleDataObservableProxyHandler,
    TupleField,
    TupleSelector,
    TuplesProviderABC,
    VortexSender,
    addTupleType,
    connection_events,
    vortexRPC,
)

logger = logging.getLogger(__name__)

FILT = {"plugin": "fx_e2e_rpc"}
OBSERVABLE = "fx_e2e_rpc"
PROBE_SECONDS = 0.2


@addTupleType
class ServerBootTuple(Tuple):
    """Which server process answers: its pid and its start count on this home."""

    __tupleType__ = "fx_e2e_rpc.ServerBootTuple"

    pid = TupleField()
    boot = TupleField()


BOOT_SELECTOR = TupleSelector(ServerBootTuple.tupleName(), {})


class FixtureRpc:
    """The server's RPCs for the agent."""

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=FILT)
    def ping(self) -> int:
        return os.getpid()

    @vortexRPC(peekServerName, acceptOnlyFromVortex=peekAgentName, additionalFilt=FILT,
               timeoutSeconds=120)
    def hang(self) -> "Deferred[None]":
        # Never fires: the caller can only learn the outcome from the connection.
        return Deferred()


class _BootProvider(TuplesProviderABC):
    def __init__(self, boot: int) -> None:
        self._boot = boot

    def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        return Payload(filt, [ServerBootTuple(pid=os.getpid(), boot=self._boot)]).toVortexMsg()


class FixtureServerHook(PluginServerEntryHookABC):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: list[Any] = []

    def load(self) -> None:
        pass

    def start(self) -> None:
        counter = self.platform.fileStorageDirectory / "boots"
        boot = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(boot))
        observable = TupleDataObservableHandler(OBSERVABLE, additionalFilt=FILT)
        observable.addTupleProvider(ServerBootTuple.tupleName(), _BootProvider(boot))
        rpcs = FixtureRpc()
        self._loaded = [observable, FixtureRpc.ping.start(funcSelf=rpcs),
                        FixtureRpc.hang.start(funcSelf=rpcs)]
        logger.info("fx server boot %s pid %s", boot, os.getpid())

    def stop(self) -> None:
        while self._loaded:
            self._loaded.pop().shutdown()

    def unload(self) -> None:
        pass


class FixtureClientHook(PluginClientEntryHookABC):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proxy: Optional[TupleDataObservableProxyHandler] = None

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._proxy = TupleDataObservableProxyHandler(OBSERVABLE, peekServerName,
                                                      additionalFilt=FILT)

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.shutdown()

    def unload(self) -> None:
        pass


class _Prober:
    """Calls the server while the agent runs and reports what every call did."""

    def __init__(self) -> None:
        self._last: Optional[str] = None
        self._in_flight = False
        self._loop = task.LoopingCall(self._probe)
        self._remove_listener = connection_events().add_listener(self)

    def start(self) -> "_Prober":
        self._loop.start(PROBE_SECONDS)
        if connection_events().is_connected(peekServerName):
            self._hang()
        return self

    def shutdown(self) -> None:
        self._remove_listener()
        if self._loop.running:
            self._loop.stop()

    def on_connection_open(self, connection: VortexSender) -> None:
        if connection.vortex_name == peekServerName:
            self._hang()

    def on_connection_lost(self, connection: VortexSender) -> None:
        pass

    def _probe(self) -> None:
        if self._in_flight:
            return
        self._in_flight = True
        started = time.monotonic()
        d = FixtureRpc.ping()

        def done(outcome: str) -> None:
            self._in_flight = False
            if outcome != self._last:
                self._last = outcome
                logger.info("fx probe: %s", outcome)

        d.addCallbacks(
            lambda pid: done(f"ok (server pid {pid})"),
            lambda f: done(f"failed after {time.monotonic() - started:.2f}s: "
                           f"{type(f.value).__name__}: {f.value}"),
        )

    def _hang(self) -> None:
        started = time.monotonic()
        d = FixtureRpc.hang()
        d.addErrback(lambda f: logger.info(
            "fx hang call ended after %.2fs: %s: %s",
            time.monotonic() - started, type(f.value).__name__, f.value))


class FixtureAgentHook(PluginAgentEntryHookABC):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prober: Optional[_Prober] = None

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._prober = _Prober().start()

    def stop(self) -> None:
        if self._prober is not None:
            self._prober.shutdown()

    def unload(self) -> None:
        pass


def peekServerEntryHook() -> type[PluginServerEntryHookABC]:
    return FixtureServerHook


def peekClientEntryHook() -> type[PluginClientEntryHookABC]:
    return FixtureClientHook


def peekAgentEntryHook() -> type[PluginAgentEntryHookABC]:
    return FixtureAgentHook
