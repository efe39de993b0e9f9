"""The entry hook a plugin returns from ``peekWorkerEntryHook()``."""

from typing import Any, Optional

from peek_plugin_base.PluginCommonEntryHookABC import PluginPlatformEntryHookBase
from peek_plugin_base.worker.PeekWorkerPlatformHookABC import PeekWorkerPlatformHookABC


class PluginWorkerEntryHookABC(PluginPlatformEntryHookBase[PeekWorkerPlatformHookABC]):
    """A plugin's presence in a worker service."""

    @property
    def publishedWorkerApi(self) -> Optional[object]:
        """The API other worker-side plugins get from ``getOtherPluginApi``; None if none."""
        return None

    @property
    def celeryAppIncludes(self) -> list[str]:
        """Modules holding this plugin's Celery tasks, e.g. ``["pkg._private.worker.Tasks"]``."""
        return []

    @property
    def celeryApp(self) -> Any:
        """The plugin's Celery app, configured by the platform; None when it has no tasks."""
        return None
