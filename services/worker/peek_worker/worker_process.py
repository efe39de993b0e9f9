"""The worker process: config, logging, plugins, then a Celery worker in the foreground.

Sequence: read and validate config.json -> logging -> configure the process's one Celery
app -> load and start the enabled worker plugins -> import each plugin's
``celeryAppIncludes`` -> consume the running plugins' queues and the default queue
(:mod:`peek_platform.celery_glue.routing`) -> set up worker DB access (``CeleryDbConn``:
one engine per pool process, created lazily in it, disposed when it exits; the worker never
migrates) -> run the Celery worker until it is told to stop (SIGTERM/SIGINT:
warm shutdown, running tasks finish) -> stop and unload the plugins -> exit 0.

The Twisted reactor is not run before the pool has forked: Celery's prefork pool forks this
process, and a running reactor (its epoll descriptor, its threads) must not be shared with
the children. The plugin host is driven without one, so worker plugins' ``load``/``start``/
``stop`` must finish without waiting on the reactor; the bus connection starts in a reactor
thread once the worker is ready (see :mod:`peek_worker.bus_thread`, which installs the
reactor ``twisted.reactor`` names, asyncio by default, so code on that thread may use
asyncio) and closes after the plugins have stopped.
"""

import importlib
import logging
import logging.handlers
from collections.abc import Coroutine
from typing import Any, Optional

from celery import signals
from celery.utils.nodenames import host_format
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from peek_platform.celery_glue.app_config import configure_app
from peek_platform.celery_glue.routing import worker_queues
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_platform.errors import PluginTaskModuleError, WorkerServiceError
from peek_platform.events.sources import install_event_sources
from peek_platform.plugin.host import PluginHost, PluginRecord, PluginState, ServicePluginSpec
from peek_platform.service.runner import EXIT_OK, EXIT_START_FAILED, prepare_service
from peek_plugin_base.registrations import RegistrationLog, registering_for
from peek_plugin_base.worker import CeleryDbConn
from peek_plugin_base.worker.CeleryApp import celeryApp
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC
from peek_worker.bus_thread import WorkerBusThread
from peek_worker.platform_hook import WorkerPlatformHook

logger = logging.getLogger(__name__)

SERVICE = "worker"
WORKER_SIGNALS = (
    "Signals: SIGTERM/SIGINT warm shutdown (running tasks finish, then plugins stop); "
    "a second SIGINT or SIGQUIT stops at once; SIGHUP restarts the worker (re-reading "
    "config.json)."
)


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

    def make_hook(host: PluginHost, name: str, log: RegistrationLog) -> WorkerPlatformHook:
        return WorkerPlatformHook(host, name, log, config)

    spec = ServicePluginSpec(
        service=SERVICE,
        entry_hook_abc=PluginWorkerEntryHookABC,
        accepted_service_names=frozenset({SERVICE}),
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
            with registering_for(record.registrations):
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


def _keep_our_logging(**_: Any) -> None:
    """Celery leaves logging alone when a receiver handles ``setup_logging``."""


def _child_logging(**_: Any) -> None:
    """In a pool process, append to the log without rotating it.

    Only the main process may rotate the file; a pool process reopens it when it notices
    the main process rotated it, instead of rotating it a second time.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            watched = logging.handlers.WatchedFileHandler(handler.baseFilename,
                                                          encoding="utf-8")
            watched.setFormatter(handler.formatter)
            watched.setLevel(handler.level)
            root.removeHandler(handler)
            root.addHandler(watched)


def setup_worker_db(config: ServiceConfig) -> None:
    """Point ``CeleryDbConn`` at the worker's database and tie it to the pool's lifecycle."""
    url = CeleryDbConn.configureWorkerDb(config.database_url,
                                         config["sqlalchemy.engineArgs"])
    signals.worker_process_init.connect(CeleryDbConn.onWorkerProcessInit, weak=False)
    signals.task_postrun.connect(CeleryDbConn.onTaskPostrun, weak=False)
    signals.worker_process_shutdown.connect(CeleryDbConn.onWorkerProcessShutdown, weak=False)
    logger.info("Peek worker: tasks use the database %s (never migrated here)",
                url.render_as_string(hide_password=True))


def run_worker(argv: Optional[list[str]] = None) -> int:
    """Run the worker service until it is stopped; returns the exit code."""
    prepared = prepare_service(
        SERVICE, argv,
        "Run the Peek worker service: a Celery worker for the enabled plugins' tasks.",
        WORKER_SIGNALS, extra_check=CelerySettings.from_config,
    )
    if isinstance(prepared, int):
        return prepared
    config = prepared
    # The reactor (twisted.reactor) is installed by the bus thread, after the pool forked.
    install_event_sources(config)
    settings = CelerySettings.from_config(config)
    signals.setup_logging.connect(_keep_our_logging, weak=False)
    signals.worker_process_init.connect(_child_logging, weak=False)
    configure_app(celeryApp, settings)
    setup_worker_db(config)

    host = make_host(config)
    enabled = list(config["plugin.enabled"])
    try:
        run_now(host.start_plugins(enabled), "starting plugins")
        modules = import_task_modules(host, enabled)
    except WorkerServiceError as e:
        logger.critical("Peek worker failed to start: %s", e)
        return EXIT_START_FAILED
    tasks = sorted(name for name in celeryApp.tasks if not name.startswith("celery."))
    # Only the running plugins' queues: other plugins' tasks wait for a worker running them.
    queues = worker_queues(settings.task_queue, host.active_names)
    for queue in queues:
        celeryApp.amqp.queues.add(queue)
    logger.info(
        "Peek worker: %s; queues %s; pool %s x %d; %d task module(s), tasks: %s",
        settings.describe(), ", ".join(q.name for q in queues), settings.pool,
        settings.effective_concurrency, len(modules), ", ".join(tasks) or "none",
    )

    worker = celeryApp.Worker(
        hostname=host_format(settings.node_name),
        quiet=True,
        loglevel=config["logging.level"],
        pool_cls=settings.pool,
        queues=[q.name for q in queues],
        concurrency=settings.effective_concurrency,
        # Mingle and gossip broadcast to every worker on the broker; none is needed here.
        without_mingle=True,
        without_gossip=True,
    )
    bus = WorkerBusThread(config, host)
    signals.worker_ready.connect(bus.start, weak=False)
    exit_code = EXIT_OK
    try:
        logger.info("Peek worker is running")
        worker.start()
        exit_code = worker.exitcode or EXIT_OK
    except Exception:
        logger.critical("Peek worker: Celery failed", exc_info=True)
        exit_code = EXIT_START_FAILED
    finally:
        logger.info("Peek worker: Celery stopped; stopping plugins")
        try:
            run_now(host.stop_all(), "stopping plugins")
        except WorkerServiceError as e:
            logger.error("%s", e)
        bus.stop()
        # The solo and threads pools run tasks (and so may hold an engine) in this process.
        CeleryDbConn.onWorkerProcessShutdown()
    logger.info("Peek worker stopped (exit code %s)", exit_code)
    return int(exit_code)
