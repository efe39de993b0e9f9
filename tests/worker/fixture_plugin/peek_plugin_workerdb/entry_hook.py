"""The DB test plugin's worker entry hook.

With ``$PEEK_TEST_DB_IN_START`` set, ``start()`` uses the database in the worker's main
process, before the pool forks: the engine it creates must not reach the pool processes.
"""

import os

from peek_plugin_base.worker import CeleryDbConn
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC


class WorkerEntryHook(PluginWorkerEntryHookABC):
    """Registers the plugin's tuples in load() and lists its task module."""

    @property
    def celeryAppIncludes(self) -> list[str]:
        return ["peek_plugin_workerdb.tasks"]

    def load(self) -> None:
        # Imported here so the tuple registration belongs to this plugin.
        import peek_plugin_workerdb.storage  # noqa: F401

    def start(self) -> None:
        if os.environ.get("PEEK_TEST_DB_IN_START"):
            from peek_plugin_workerdb.tasks import stamp

            stamp(CeleryDbConn.getDbEngine())

    def stop(self) -> None:
        pass

    def unload(self) -> None:
        pass
