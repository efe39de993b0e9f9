"""Run a plugin's entry hooks for one or several services in one process, for its tests.

:class:`PluginTestHarness` plays the services a plugin runs on (``server``, ``client``,
``agent``, ``worker``) in the test's own process: each service is a
:class:`~peek_plugin_base.testing.MemoryNode` with its vortex name (``peek-server``, ...)
linked to the server node, its plugins run by the platform's own plugin host (the same
import, ``plugin_package.json`` checks, ordering, rollback and failure handling as the
real service), and its platform hook is the real one: ``getOtherPluginApi``,
``fileStorageDirectory`` (in a temporary home), HTTP resources (request them with
:meth:`PluginTestHarness.httpGet`) and, on the server, the plugin's database migrated by
its own Alembic scripts (SQLite in the temporary home by default, or ``dbUrl``, e.g. a
PostgreSQL database the test created).

Order, as on the platform: server first, then client, agent and worker; on each service
every plugin is loaded, then every plugin started; :meth:`PluginTestHarness.stop` stops
and unloads in reverse. ``start()``/``stop()`` returning Deferreds or coroutines are
awaited.

Everything is synchronous: the bus delivers at once, a :class:`~twisted.internet.task.Clock`
stands in for the reactor's timers (``harness.clock.advance(seconds)``), and blocking work
(``deferToThreadWrap``, ``deferToThread=True`` RPCs, ``OrmCrudHandler``, migrations) runs
inline, so a test needs no running reactor and a Deferred it gets has usually fired when the
call returns (:meth:`PluginTestHarness.resultOf`). Worker tasks queued with ``deferTask``
run eagerly in the process (arguments and results are not sent through JSON there)
against the harness's database.

Each service's code sees its own node's router as ``default_router()`` while it runs (its
hooks, and messages delivered to it), so a plugin written for separate processes needs no
change.

The harness reuses the platform's plugin host, platform hooks and storage code, so it
imports ``peek_platform`` lazily, inside its functions: the contract package itself stays
free of the platform at import time, and tests run where the platform is installed.
"""

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Optional, Union

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from peek_plugin_base import PeekVortexUtil
from peek_plugin_base.vortex import (
    TupleActionABC,
    TupleActionPushClient,
    TupleDataObserverClient,
    TupleSelector,
)
from peek_plugin_base.worker import DeferTask
from peek_plugin_base.worker.errors import RemoteTaskError
from peek_vortex.handlers import ObservedTuples
from peek_vortex.routing import routing_through, running_threads_inline
from peek_vortex.testing import MemoryNode, MemoryVortex
from peek_vortex.tuples import addTupleType, registered_tuple_classes

#: The services the harness can play, in the order the platform brings them up.
SERVICES: tuple[str, ...] = ("server", "client", "agent", "worker")

#: Each service's vortex name on the in-memory bus.
VORTEX_NAMES: dict[str, str] = {
    "server": PeekVortexUtil.peekServerName,
    "client": PeekVortexUtil.peekClientName,
    "agent": PeekVortexUtil.peekAgentName,
    "worker": PeekVortexUtil.peekWorkerName,
}

#: Each service's HTTP sites, by the hook prefix a plugin uses (``addAdminResource`` ...).
SITES: dict[str, tuple[str, ...]] = {
    "server": ("Admin", "Server"),
    "client": ("Mobile", "Desktop"),
    "agent": (),
    "worker": (),
}


class PluginTestHarnessError(Exception):
    """The harness could not run the plugins as asked (a plugin failed, bad arguments)."""


class _EagerTaskCaller(DeferTask.TaskCallerABC):
    """Runs a queued worker task at once, in this process, as a worker would run it;
    ``after_task`` closes the task's database session, as the worker does."""

    def __init__(self, after_task: Callable[[], None]) -> None:
        self._after_task = after_task

    def deferTask(
        self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> Deferred[Any]:
        return maybeDeferred(self._run, task, args, kwargs)

    def _run(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from peek_plugin_base.worker.CeleryApp import celeryApp

        if isinstance(task, str):
            if task not in celeryApp.tasks:
                raise RemoteTaskError(task, "eager", "NotRegistered",
                                      f"no worker plugin of the harness declares {task!r}")
            task = celeryApp.tasks[task]
        # Calling a Celery task object runs its body here, as the worker would run it.
        try:
            return task(*args, **kwargs)
        except Exception as e:
            raise RemoteTaskError(task.name, "eager", type(e).__name__, str(e)) from e
        finally:
            self._after_task()


class PluginTestHarness:
    """One or several plugins on one or several simulated services, in this process.

    ::

        with PluginTestHarness("peek_plugin_example", services=("server", "client")) as h:
            device = h.device()
            seen = h.observe("example.observable", TupleSelector("example.Thing", {}),
                             {"plugin": "peek_plugin_example"}, node=device)
            assert seen.tuples == [...]

    ``pluginNames``: a name or a list (enabled in that order on every service). ``services``:
    which services to play (the server is always played first when named). ``dbUrl``: the
    server's (and worker tasks') database; a fresh SQLite file in the temporary home when
    None. ``home``: the folder for the services' homes (a new temporary one, deleted at
    stop, when None).
    """

    def __init__(
        self,
        pluginNames: Union[str, Sequence[str]],
        services: Sequence[str] = SERVICES,
        dbUrl: Optional[str] = None,
        home: Optional[Path] = None,
    ) -> None:
        unknown = [s for s in services if s not in SERVICES]
        if unknown or not services:
            raise PluginTestHarnessError(
                f"services must be some of {', '.join(SERVICES)}; got {list(services)!r}"
            )
        self.pluginNames: list[str] = (
            [pluginNames] if isinstance(pluginNames, str) else list(pluginNames)
        )
        self.services: list[str] = [s for s in SERVICES if s in services]
        self._ownHome = home is None
        self.home: Path = Path(tempfile.mkdtemp(prefix="peek-harness-")) if home is None else home
        self.dbUrl: str = dbUrl or f"sqlite:///{self.home / 'server' / 'peek.sqlite'}"
        #: Stands in for the reactor's timers: ``clock.advance(seconds)``.
        self.clock = Clock()
        self.bus = MemoryVortex(self.clock)
        #: The node of each played service, by service name.
        self.nodes: dict[str, MemoryNode] = {
            s: self.bus.node(VORTEX_NAMES[s]) for s in self.services
        }
        if "server" in self.nodes:
            for service in self.services[1:]:
                self.bus.link(self.nodes[service], self.nodes["server"])
        #: The HTTP site roots of each service, by hook prefix ("Admin", "Mobile", ...).
        self.sites: dict[str, dict[str, Any]] = {}
        self._hosts: dict[str, Any] = {}
        self._storage: Any = None
        self._patches = ExitStack()
        self._started: list[str] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "PluginTestHarness":
        """Migrate, load and start the plugins on every service; raises if one failed."""
        self._patches.enter_context(running_threads_inline())
        if "worker" in self.services:
            # Before the server starts: its plugins may queue tasks from start().
            self._patches.enter_context(_eager_tasks(self.dbUrl))
        try:
            for service in self.services:
                self._startService(service)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop, then unload, every plugin in reverse order; release the database and home."""
        kept = [cls for cls in registered_tuple_classes()
                if cls.__module__.split(".")[0] in self.pluginNames]
        try:
            for service in reversed(self._started):
                with routing_through(self.nodes[service].router):
                    self.resultOf(Deferred.fromCoroutine(self._hosts[service].stop_all()))
            self._started.clear()
            if self._storage is not None:
                self.resultOf(maybeDeferred(self._storage.stopService))
                self._storage = None
        finally:
            # Unloading rolled the plugins' tuple types back, but their modules stay
            # imported (unlike a service's reload, which re-imports them), so a later
            # harness in this process could not decode them: keep them registered.
            for cls in kept:
                addTupleType(cls)
            self._patches.close()
            if self._ownHome:
                shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "PluginTestHarness":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _startService(self, service: str) -> None:
        from peek_platform.config import ServiceConfig
        from peek_platform.plugin.host import PluginHost, PluginState, ServicePluginSpec
        from peek_platform.web.plugin_site import PluginSiteRoot

        home = self.home / service
        home.mkdir(parents=True, exist_ok=True)
        settings: dict[str, Any] = {"plugin": {"enabled": self.pluginNames}}
        if service in ("server", "worker"):
            settings["sqlalchemy"] = {"connectUrl": self.dbUrl}
        (home / "config.json").write_text(json.dumps(settings))
        config = ServiceConfig.load(service, home)
        self.sites[service] = {
            prefix: PluginSiteRoot(prefix.lower()) for prefix in SITES[service]
        }
        before_load = None
        if service == "server":
            from peek_platform.storage.service import StorageService

            self._storage = StorageService(config, run_in_thread=maybeDeferred)
            self.resultOf(maybeDeferred(self._storage.startService))
            before_load = self._storage.before_load
        host = PluginHost(ServicePluginSpec(
            service=service,
            entry_hook_abc=_entry_hook_abc(service),
            accepted_service_names=frozenset(
                {"server", "storage"} if service == "server" else {service}
            ),
            make_platform_hook=self._hookMaker(service, config),
            before_load=before_load,
        ), clock=self.clock)
        self._hosts[service] = host
        self._started.append(service)
        with routing_through(self.nodes[service].router):
            self.resultOf(Deferred.fromCoroutine(host.start_plugins(self.pluginNames)))
        failed = [
            f"{record.name}: {record.state.value}: {record.reason}"
            for record in host.records.values()
            if record.state is not PluginState.RUNNING and not record.elsewhere
        ]
        if failed:
            raise PluginTestHarnessError(
                f"{service} service could not run every plugin: {'; '.join(failed)}"
            )
        if service == "worker":
            self._importTasks(host)

    def _hookMaker(self, service: str, config: Any) -> Any:
        from peek_platform.plugin import service_hooks

        hook_class = getattr(service_hooks, f"{service.capitalize()}PlatformHook")
        sites = self.sites[service]
        storage = self._storage

        def make_hook(host: Any, name: str, log: Any) -> Any:
            if service == "server":
                return hook_class(host, name, log, config, sites, storage=storage)
            return hook_class(host, name, log, config, sites)

        return make_hook

    @staticmethod
    def _importTasks(host: Any) -> None:
        """Import each worker plugin's task modules, as the Celery worker does at start."""
        import importlib

        for name in host.active_names:
            hook = host.records[name].entry_hook
            for module in getattr(hook, "celeryAppIncludes", None) or []:
                importlib.import_module(module)

    # ---------------------------------------------------------------- access

    def entryHook(self, service: str, pluginName: Optional[str] = None) -> Any:
        """The running entry hook of ``pluginName`` (the first plugin when None)."""
        name = pluginName or self.pluginNames[0]
        record = self._hosts[service].records.get(name)
        if record is None or record.entry_hook is None:
            raise PluginTestHarnessError(f"{name} is not running on the {service} service")
        return record.entry_hook

    def platformHook(self, service: str, pluginName: Optional[str] = None) -> Any:
        """The platform hook ``pluginName`` got on ``service``."""
        return self.entryHook(service, pluginName).platform

    def router(self, service: str) -> Any:
        """The bus router of ``service`` (pass it as ``router=`` or to ``Rpc.via``)."""
        return self.nodes[service].router

    def device(self, name: str = PeekVortexUtil.peekMobileName) -> MemoryNode:
        """A new device (``peek-mobile`` by default) connected to the client service."""
        if "client" not in self.nodes:
            raise PluginTestHarnessError("a device needs the client service in services=")
        node = self.bus.node(name, device=True)
        self.bus.link(node, self.nodes["client"])
        return node

    def _routerOf(self, node: Union[str, MemoryNode]) -> Any:
        return self.nodes[node].router if isinstance(node, str) else node.router

    # ---------------------------------------------------------------- acting

    def observe(
        self,
        observableName: str,
        tupleSelector: TupleSelector,
        additionalFilt: Optional[dict[str, Any]] = None,
        node: Union[str, MemoryNode] = "client",
        destVortexName: Optional[str] = None,
    ) -> ObservedTuples:
        """Subscribe as ``node`` (a service name or a :meth:`device`) to an observable.

        A device or the agent observes through its upstream (the client service for a
        device, the server for a service); ``.tuples`` holds the latest data.
        """
        destination = destVortexName or self._upstream(node)
        client = TupleDataObserverClient(
            observableName=observableName, destVortexName=destination,
            additionalFilt=additionalFilt, router=self._routerOf(node),
        )
        observed = client.subscribeToTupleSelector(tupleSelector)
        self.settle()
        return observed

    def pushAction(
        self,
        tupleAction: TupleActionABC,
        tupleActionProcessorName: str,
        additionalFilt: Optional[dict[str, Any]] = None,
        node: Union[str, MemoryNode] = "client",
        destVortexName: Optional[str] = None,
    ) -> Any:
        """Push ``tupleAction`` as ``node`` and return the processor's answer (or raise)."""
        client = TupleActionPushClient(
            tupleActionProcessorName=tupleActionProcessorName,
            destVortexName=destVortexName or self._upstream(node),
            additionalFilt=additionalFilt, router=self._routerOf(node),
        )
        return self.resultOf(client.pushAction(tupleAction))

    def callRpc(
        self, rpcFunction: Any, *args: Any, node: Union[str, MemoryNode] = "agent", **kwargs: Any
    ) -> Any:
        """Call a ``@vortexRPC`` function as ``node`` and return its result (or raise).

        A device calls through its client service (which must expose the RPC with
        ``exposeToDevices``); a service calls the RPC's listening vortex directly.
        """
        router = self._routerOf(node)
        if isinstance(node, MemoryNode) and node.device:
            d = rpcFunction.callThroughVia(router, PeekVortexUtil.peekClientName, *args, **kwargs)
        else:
            d = rpcFunction.via(router)(*args, **kwargs)
        return self.resultOf(d)

    def httpGet(self, service: str, site: str, path: bytes) -> tuple[int, bytes]:
        """GET ``path`` (``b"/peek_plugin_x/..."``) from a site of ``service`` ("Admin",
        "Server", "Mobile", "Desktop"); returns the status code and body."""
        from twisted.web.resource import getChildForRequest
        from twisted.web.server import NOT_DONE_YET
        from twisted.web.test.requesthelper import DummyRequest

        root = self.sites[service].get(site)
        if root is None:
            raise PluginTestHarnessError(f"the {service} service has no {site!r} site")
        request = DummyRequest(path.lstrip(b"/").split(b"/"))
        request.uri = request.path = path
        resource = getChildForRequest(root, request)
        body = resource.render(request)
        if body is NOT_DONE_YET:
            if not request.finished:
                self.resultOf(request.notifyFinish())
            body = b"".join(request.written)
        return (request.responseCode or 200), body

    # ---------------------------------------------------------------- waiting

    def settle(self) -> None:
        """Run everything due now on the clock (providers run on the next turn)."""
        self.clock.advance(0)

    def resultOf(self, d: Deferred[Any]) -> Any:
        """The result of ``d`` once what is due has run; raises its failure, or if it has
        not fired (something waits on time: advance ``clock``, or a real thread)."""
        results: list[Any] = []
        d.addBoth(results.append)
        self.settle()
        if not results:
            raise PluginTestHarnessError(
                "the Deferred has not fired; advance harness.clock if it waits on time"
            )
        if isinstance(results[0], Failure):
            results[0].raiseException()
        return results[0]

    def _upstream(self, node: Union[str, MemoryNode]) -> str:
        if isinstance(node, MemoryNode):
            return PeekVortexUtil.peekClientName if node.device else PeekVortexUtil.peekServerName
        return PeekVortexUtil.peekServerName


def _entry_hook_abc(service: str) -> type:
    from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
    from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
    from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
    from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC

    return {
        "server": PluginServerEntryHookABC, "client": PluginClientEntryHookABC,
        "agent": PluginAgentEntryHookABC, "worker": PluginWorkerEntryHookABC,
    }[service]


@contextmanager
def _eager_tasks(dbUrl: str) -> Iterator[None]:
    """Make ``deferTask`` run tasks at once in this process, with ``CeleryDbConn`` on
    ``dbUrl``, while the harness runs."""
    from peek_platform.celery_glue.worker_db import WorkerDb

    db = WorkerDb(dbUrl)
    stop_db = db.serve()
    stop_caller = _EagerTaskCaller(db.on_task_postrun).serve()
    try:
        yield
    finally:
        stop_caller()
        stop_db()
        db.on_worker_process_shutdown()
