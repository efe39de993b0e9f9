"""A worker plugin whose task module cannot be imported."""

from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC


class WorkerEntryHook(PluginWorkerEntryHookABC):
    """Names a task module that does not exist."""

    @property
    def celeryAppIncludes(self) -> list[str]:
        return ["peek_plugin_workerbroken.no_such_tasks"]

    def load(self) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def unload(self) -> None:
        pass


def peekWorkerEntryHook() -> type[PluginWorkerEntryHookABC]:
    return WorkerEntryHook
