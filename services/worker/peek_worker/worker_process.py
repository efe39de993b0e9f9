"""The worker process: config, logging, then a Celery worker in the foreground that runs
the platform (plugins and bus connection) as one of its bootsteps.

Sequence: read and validate config.json -> logging -> configure the process's one Celery
app -> set up worker DB access (a :class:`~peek_platform.celery_glue.worker_db.WorkerDb`
serving ``CeleryDbConn``: one engine per pool process, created lazily in it, disposed when
it exits; the worker never migrates) -> build the Celery
worker, whose blueprint holds :class:`~peek_worker.bootstep.PeekPlatformStep`: it loads
and starts the enabled worker plugins, imports each plugin's ``celeryAppIncludes`` and
consumes the running plugins' queues besides the default one
(:mod:`peek_platform.celery_glue.routing`) -> run the worker: the pool forks, then the step
starts the bus thread -> until it is told to stop (SIGTERM/SIGINT: warm shutdown, running
tasks finish, then the step stops and unloads the plugins and closes the bus) -> exit 0.

The Twisted reactor is not run before the pool has forked: Celery's prefork pool forks this
process, and a running reactor (its epoll descriptor, its threads) must not be shared with
the children. The plugin host is driven without one, so worker plugins' ``load``/``start``/
``stop`` must finish without waiting on the reactor; the bus connection starts in a reactor
thread once the pool has started (the step requires Celery's pool step; see
:mod:`peek_worker.bus_thread`, which installs the reactor chosen by ``twisted.reactor`` and
the plugins' ``"asyncio"`` declarations, as on every service; on the asyncio reactor code on
that thread may use asyncio) and closes after the plugins stopped.
"""

import logging
import logging.handlers
from typing import Any, Optional

from celery import signals
from celery.utils.nodenames import host_format

from peek_platform.celery_glue.app_config import configure_app
from peek_platform.celery_glue.routing import worker_queues
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.celery_glue.worker_db import WorkerDb
from peek_platform.config import ServiceConfig
from peek_platform.errors import WorkerServiceError
from peek_platform.events.sources import install_event_sources
from peek_platform.service.reactor import choose_reactor
from peek_platform.service.runner import EXIT_OK, EXIT_START_FAILED, prepare_service
from peek_plugin_base.worker.CeleryApp import celeryApp
from peek_worker.bootstep import SERVICE, WorkerPlatform, install_platform_step

logger = logging.getLogger(__name__)

WORKER_SIGNALS = (
    "Signals: SIGTERM/SIGINT warm shutdown (running tasks finish, then plugins stop); "
    "a second SIGINT or SIGQUIT stops at once; SIGHUP restarts the worker (re-reading "
    "config.json)."
)


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


def setup_worker_db(config: ServiceConfig) -> WorkerDb:
    """Serve ``CeleryDbConn`` from the worker's database, tied to the pool's lifecycle."""
    db = WorkerDb(config.database_url, config["sqlalchemy.engineArgs"])
    db.serve()
    signals.worker_process_init.connect(db.on_worker_process_init, weak=False)
    signals.task_postrun.connect(db.on_task_postrun, weak=False)
    signals.worker_process_shutdown.connect(db.on_worker_process_shutdown, weak=False)
    logger.info("Peek worker: tasks use the database %s (never migrated here)",
                db.url.render_as_string(hide_password=True))
    return db


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
    # The reactor (twisted.reactor) is chosen now, so the plugin host refuses plugins that
    # need asyncio on the default reactor, and installed by the bus thread after the pool
    # forked.
    reactor_choice = choose_reactor(config["twisted.reactor"], SERVICE,
                                    config["plugin.enabled"])
    install_event_sources(config)
    settings = CelerySettings.from_config(config)
    signals.setup_logging.connect(_keep_our_logging, weak=False)
    signals.worker_process_init.connect(_child_logging, weak=False)
    configure_app(celeryApp, settings)
    worker_db = setup_worker_db(config)

    platform = WorkerPlatform(config, settings, reactor_name=reactor_choice.name)
    install_platform_step()
    # Consumed from the start; the platform step adds its running plugins' queues.
    default_queue = worker_queues(settings.task_queue, [])[0]
    celeryApp.amqp.queues.add(default_queue)
    exit_code = EXIT_OK
    try:
        # Building the worker runs the platform step's create: the plugins start here.
        worker = celeryApp.Worker(
            hostname=host_format(settings.node_name),
            quiet=True,
            loglevel=config["logging.level"],
            pool_cls=settings.pool,
            queues=[default_queue.name],
            concurrency=settings.effective_concurrency,
            # Mingle and gossip broadcast to every worker on the broker; none is needed.
            without_mingle=True,
            without_gossip=True,
            peek_platform=platform,
        )
    except WorkerServiceError as e:
        logger.critical("Peek worker failed to start: %s", e)
        platform.stop()
        return EXIT_START_FAILED
    try:
        logger.info("Peek worker is running")
        worker.start()
        exit_code = worker.exitcode or EXIT_OK
    except Exception:
        logger.critical("Peek worker: Celery failed", exc_info=True)
        exit_code = EXIT_START_FAILED
    finally:
        logger.info("Peek worker: Celery stopped")
        # The platform step stopped the plugins and the bus, unless Celery never fully
        # started (it then skips every step's stop).
        platform.stop()
        # The solo and threads pools run tasks (and so may hold an engine) in this process.
        worker_db.on_worker_process_shutdown()
    logger.info("Peek worker stopped (exit code %s)", exit_code)
    return int(exit_code)
