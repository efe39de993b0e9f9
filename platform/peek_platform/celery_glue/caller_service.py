"""The Twisted service that owns a server's task caller (started before the plugins)."""

import logging
from collections.abc import Callable
from typing import Any, Optional

from celery import Celery
from twisted.application.service import Service

from peek_platform.celery_glue.app_config import configure_app
from peek_platform.celery_glue.caller import TaskCaller
from peek_platform.celery_glue.settings import CelerySettings

logger = logging.getLogger(__name__)


class TaskCallerService(Service):
    """Configures the process's Celery app and runs the caller that ``deferTask`` uses.

    Add it before the plugin host, so plugins can queue tasks from ``start()`` on and
    until their ``stop()`` has finished; at stop, tasks still pending fail with
    ``TaskCallerNotRunningError``.
    """

    name = "worker-tasks"

    def __init__(self, settings: CelerySettings, app: Optional[Celery] = None) -> None:
        from peek_plugin_base.worker.CeleryApp import celeryApp

        self.settings = settings
        self.app = app if app is not None else celeryApp
        self.caller: Optional[TaskCaller] = None
        self._stop_serving: Callable[[], None] = lambda: None

    def startService(self) -> None:  # noqa: N802 - twisted API
        from twisted.internet import reactor

        super().startService()
        configure_app(self.app, self.settings)
        self.caller = TaskCaller(self.app, reactor.callFromThread, reactor)
        self.caller.start()
        self._stop_serving = self.caller.serve()
        logger.info("Worker task caller running: %s", self.settings.describe())

    def stopService(self) -> Any:  # noqa: N802 - twisted API
        super().stopService()
        self._stop_serving()
        caller, self.caller = self.caller, None
        if caller is not None:
            caller.stop()
            logger.info("Worker task caller stopped")
        return None
