"""The worker's platform as one Celery bootstep: its plugins and its bus connection.

Celery's worker is a blueprint of bootsteps ordered by their ``requires``; the platform
joins it as :class:`PeekPlatformStep`, which requires the pool
(``celery.worker.components:Pool``), instead of hanging off Celery's signals:

- ``create`` (while Celery builds the worker, before the pool has forked): load and start
  the enabled plugins, import their ``celeryAppIncludes`` and consume their queues. It
  must come before the fork, so prefork children inherit the task modules.
- ``start`` (after the pool has started, so after it forked its children): start the bus
  thread, which installs the reactor (:mod:`peek_worker.bus_thread`). Children never
  inherit a running reactor.
- ``stop`` (warm shutdown; the consumer has stopped taking tasks): let the pool finish its
  running tasks, then stop and unload the plugins, then close the bus connection.
  ``terminate`` (cold shutdown) does the same without waiting for running tasks.

Celery skips every step's ``stop`` when the worker never fully started (the broker was
unreachable), so :meth:`WorkerPlatform.stop` is idempotent and the worker calls it once
more after Celery returns.
"""

import importlib
import logging
from collections.abc import Coroutine
from typing import Any, Optional

from celery import bootsteps
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from peek_platform.celery_glue.routing import worker_queues
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_platform.errors import PluginTaskModuleError, WorkerServiceError
from peek_platform.plugin.discovery import runs_on
from peek_platform.plugin.host import PluginHost, PluginRecord, PluginState, ServicePluginSpec
from peek_plugin_base.worker.CeleryApp import celeryApp
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC
from peek_vortex import OwnershipScope, owned_by
from peek_worker.bus_thread import WorkerVortexThread
from peek_worker.platform_hook import WorkerPlatformHook

logger = logging.getLogger(__name__)

SERVICE = "worker"


def run_now(coroutine: Coroutine[Any, Any, Any], what: str) -> Any:
    """Run a plugin-host coroutine that must finish without a reactor; return its result."""
    outcome: list[Any] = []
    Deferred.fromCoroutine(coroutine).addBoth(outcome.append)
    if not outcome:
        raise WorkerServiceError(
            f"{what} waited on the reactor; worker plugins' load/start/stop must finish "
            "synchronously (the worker runs no reactor before its pool has forked)"
        )
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]


def make_host(config: ServiceConfig) -> PluginHost:
    """The worker's plugin host (no reactor clock: nothing here waits on time)."""

    def make_hook(host: PluginHost, name: str, log: OwnershipScope) -> WorkerPlatformHook:
        return WorkerPlatformHook(host, name, log, config)

    spec = ServicePluginSpec(
        service=SERVICE,
        entry_hook_abc=PluginWorkerEntryHookABC,
        accepted_service_names=runs_on(SERVICE),
        make_platform_hook=make_hook,
    )
    return PluginHost(spec)


def import_task_modules(host: PluginHost, enabled: list[str]) -> list[str]:
    """Import every running plugin's ``celeryAppIncludes``; returns the modules imported.

    A plugin whose modules fail to import (or that brings a Celery app of its own) is
    stopped and unloaded, its registrations (tasks) rolled back, and marked failed.
    """
    imported: list[str] = []
    failed: dict[str, str] = {}
    for name in host.active_names:
        record = host.records[name]
        hook = record.entry_hook
        assert hook is not None
        try:
            if hook.celeryApp is not celeryApp:
                raise PluginTaskModuleError(
                    name, "celeryApp must be the platform's app "
                    "(peek_plugin_base.worker.CeleryApp.celeryApp); declare tasks with peekTask",
                )
            with owned_by(record.registrations):
                includes = list(hook.celeryAppIncludes)
                for module in includes:
                    importlib.import_module(module)
        except Exception as e:
            reason = e.reason if isinstance(e, PluginTaskModuleError) else (
                f"importing celeryAppIncludes failed: {e!r}")
            logger.error("Plugin %s failed: %s", name, reason, exc_info=True)
            failed[name] = reason
            continue
        imported.extend(includes)
    if failed:
        run_now(host.apply_enabled([n for n in enabled if n not in failed]), "unloading plugins")
        for name, reason in failed.items():
            record = host.records.setdefault(name, PluginRecord(name))
            record.state = PluginState.FAILED
            record.reason = reason
    return imported


class WorkerPlatform:
    """What the worker runs besides Celery: the plugin host and the bus thread."""

    def __init__(self, config: ServiceConfig, settings: CelerySettings,
                 host: Optional[PluginHost] = None,
                 bus: Optional[WorkerVortexThread] = None,
                 reactor_name: str = "default") -> None:
        self.config = config
        self.settings = settings
        self.host = host if host is not None else make_host(config)
        # Made now so the state reporter's log tail holds the lines logged as plugins start.
        self.bus = bus if bus is not None else WorkerVortexThread(config, self.host, reactor_name)
        self._plugins_started = False

    def start_plugins(self) -> list[str]:
        """Load and start the enabled plugins and import their task modules; returns the
        queues to consume (the default one first). Raises WorkerServiceError when a
        plugin's lifecycle needs the reactor."""
        enabled = list(self.config["plugin.enabled"])
        self._plugins_started = True
        run_now(self.host.start_plugins(enabled), "starting plugins")
        modules = import_task_modules(self.host, enabled)
        # Only the running plugins' queues: other plugins' tasks wait for a worker running them.
        queues = worker_queues(self.settings.task_queue, self.host.active_names)
        for queue in queues:
            celeryApp.amqp.queues.select_add(queue)
        tasks = sorted(name for name in celeryApp.tasks if not name.startswith("celery."))
        logger.info(
            "Peek worker: %s; queues %s; pool %s x %d; %d task module(s), tasks: %s",
            self.settings.describe(), ", ".join(q.name for q in queues), self.settings.pool,
            self.settings.effective_concurrency, len(modules), ", ".join(tasks) or "none",
        )
        return [queue.name for queue in queues]

    def stop(self) -> None:
        """Stop and unload the plugins, then close the bus connection (each once)."""
        if self._plugins_started:
            self._plugins_started = False
            logger.info("Peek worker: stopping plugins")
            try:
                run_now(self.host.stop_all(), "stopping plugins")
            except WorkerServiceError as e:
                logger.error("%s", e)
        self.bus.stop()


class PeekPlatformStep(bootsteps.StartStopStep):
    """The platform's plugins and bus connection, started once the pool has forked (see
    the module's docstring for each phase)."""

    label = "Peek platform"
    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker: Any, peek_platform: Optional[WorkerPlatform] = None,
                 **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.platform = peek_platform

    def include_if(self, worker: Any) -> bool:
        """Only a worker built by ``run_peek_worker`` (given the platform) runs the step."""
        return self.platform is not None

    def create(self, worker: Any) -> None:
        """Before the fork: plugins, their task modules and their queues."""
        assert self.platform is not None
        self.platform.start_plugins()

    def start(self, worker: Any) -> None:
        """After the fork: the bus thread and its reactor."""
        assert self.platform is not None
        self.platform.bus.start()

    def stop(self, worker: Any) -> None:
        """Warm shutdown: running tasks finish (the pool drains), then the platform stops."""
        assert self.platform is not None
        if worker.pool is not None:
            # The pool step stops after this one; stopping it here as well is harmless
            # (every pool's stop is idempotent) and keeps plugins up for running tasks.
            worker.pool.stop()
        self.platform.stop()

    def terminate(self, worker: Any) -> None:
        """Cold shutdown: the platform stops without waiting for running tasks."""
        assert self.platform is not None
        self.platform.stop()


def install_platform_step() -> None:
    """Add :class:`PeekPlatformStep` to the platform app's worker blueprint (once)."""
    celeryApp.steps["worker"].add(PeekPlatformStep)
