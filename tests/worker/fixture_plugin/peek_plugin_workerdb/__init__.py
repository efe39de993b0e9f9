"""A worker plugin for the DB tests: tasks that use CeleryDbConn and pass bus tuples."""

from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC


def peekWorkerEntryHook() -> type[PluginWorkerEntryHookABC]:
    from peek_plugin_workerdb.entry_hook import WorkerEntryHook

    return WorkerEntryHook
