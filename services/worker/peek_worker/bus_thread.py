"""The worker's bus connection: a reactor in one thread of the main process.

Celery's prefork pool forks the main process, and a running reactor (its epoll descriptor,
its waker pipe, its threads) must not be shared with the children. So the reactor starts
only once Celery reports the worker ready, after the pool has forked its children, and runs
in a daemon thread without signal handlers (Celery owns the signals). Children forked later
(``celery.worker.maxTasksPerChild``) inherit the imported but not running reactor and never
touch it. At shutdown the connection closes after the plugins have stopped.
"""

import logging
import threading
from typing import Any, Optional

from twisted.internet.defer import maybeDeferred

from peek_platform.admin_state.reporter import StateReporter
from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigError
from peek_platform.plugin.host import PluginHost
from peek_platform.service.reactor import install_reactor, installed_reactor_name
from peek_platform.vortex.wiring import attach_bus, upstream_service
from peek_plugin_base import PeekVortexUtil
from peek_vortex.transport import VortexClientService

logger = logging.getLogger(__name__)


class WorkerVortexThread:
    """Connects the worker to the server's bus from a reactor thread."""

    def __init__(self, config: ServiceConfig, host: Optional[PluginHost] = None,
                 reactor_name: str = "default") -> None:
        self._config = config
        # Chosen by run_worker before the pool forked (choose_reactor), installed in start().
        self._reactor = reactor_name
        # Reports the worker's plugins and log tail to the server (control is refused: the
        # Celery pool has imported the plugins' task modules). Made now so the tail holds
        # the lines logged while plugins start.
        self._reporter = StateReporter(config, host) if host is not None else None
        self._thread: Optional[threading.Thread] = None
        self._upstream: Optional[VortexClientService] = None

    def start(self, **_: Any) -> None:
        """Start the reactor thread and connect (a Celery ``worker_ready`` receiver)."""
        if self._thread is not None:
            return
        try:
            # Only now, after the pool has forked: children never inherit a reactor.
            install_reactor(self._reactor)
        except ConfigError as e:
            logger.error("Peek worker: %s; the bus runs on the reactor already imported", e)
        from twisted.internet import reactor

        logger.info("Peek worker: the bus thread runs the %s reactor", installed_reactor_name())
        upstream = upstream_service(self._config, PeekVortexUtil.peekWorkerName)
        attach_bus(self._config, PeekVortexUtil.peekWorkerName, [upstream])
        self._upstream = upstream
        reactor.callWhenRunning(upstream.startService)
        if self._reporter is not None:
            reactor.callWhenRunning(self._reporter.startService)
        self._thread = threading.Thread(
            target=reactor.run,
            kwargs={"installSignalHandlers": False},
            name="peek-worker-bus",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and stop the reactor thread (waits up to ``timeout``)."""
        thread, upstream = self._thread, self._upstream
        if thread is None or upstream is None:
            return
        from twisted.internet import reactor

        reporter = self._reporter

        def shut_down() -> None:
            if reporter is not None and reporter.running:
                reporter.stopService()
            d = maybeDeferred(upstream.stopService)
            d.addBoth(lambda _: reactor.stop())

        reactor.callFromThread(shut_down)
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("Peek worker: the bus thread did not stop within %.0fs", timeout)
        self._thread = None
