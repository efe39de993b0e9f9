"""The test plugin's worker entry hook; appends each lifecycle step to $PEEK_TEST_LIFECYCLE."""

import os

from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC


def _note(step: str) -> None:
    path = os.environ.get("PEEK_TEST_LIFECYCLE")
    if path:
        with open(path, "a") as f:
            f.write(f"{step} {os.getpid()}\n")


class WorkerEntryHook(PluginWorkerEntryHookABC):
    """Lists the task module and records load/start/stop/unload."""

    @property
    def celeryAppIncludes(self) -> list[str]:
        return ["peek_plugin_workertest.tasks"]

    def load(self) -> None:
        _note("load")

    def start(self) -> None:
        _note("start")

    def stop(self) -> None:
        _note("stop")

    def unload(self) -> None:
        _note("unload")
