"""A second worker plugin for the routing tests: a worker running only this one must leave
peek_plugin_workertest's tasks for a worker that runs it."""

from typing import Any

from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC


class WorkerEntryHook(PluginWorkerEntryHookABC):
    """Lists the task module; nothing to set up."""

    @property
    def celeryAppIncludes(self) -> list[str]:
        return ["peek_plugin_workerother.tasks"]

    def load(self) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def unload(self) -> Any:
        pass


def peekWorkerEntryHook() -> type[PluginWorkerEntryHookABC]:
    return WorkerEntryHook
