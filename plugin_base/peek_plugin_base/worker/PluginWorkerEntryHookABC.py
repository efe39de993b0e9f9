"""The entry hook a plugin returns from ``peekWorkerEntryHook()``."""

from typing import TYPE_CHECKING, Optional

from peek_plugin_base.PluginCommonEntryHookABC import PluginPlatformEntryHookBase
from peek_plugin_base.worker.PeekWorkerPlatformHookABC import PeekWorkerPlatformHookABC

if TYPE_CHECKING:
    from celery import Celery


class PluginWorkerEntryHookABC(PluginPlatformEntryHookBase[PeekWorkerPlatformHookABC]):
    """A plugin's presence in a worker service."""

    @property
    def publishedWorkerApi(self) -> Optional[object]:
        """The API other worker-side plugins get from ``getOtherPluginApi``; None if none."""
        return None

    @property
    def celeryAppIncludes(self) -> list[str]:
        """Modules holding this plugin's tasks, e.g. ``["pkg._private.worker.Tasks"]``.

        The worker imports them after the plugin has started and before it consumes tasks.
        """
        return []

    @property
    def celeryApp(self) -> "Celery":
        """The process's Celery app (configured by the platform); tasks use ``peekTask``."""
        # Imported on use: plugin packages import this module on every service, and only
        # the worker and server need Celery loaded.
        from peek_plugin_base.worker.CeleryApp import celeryApp

        return celeryApp
