"""A worker plugin for the tests: tasks that add, fail, block, and credit a ledger once."""

from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC


def peekWorkerEntryHook() -> type[PluginWorkerEntryHookABC]:
    from peek_plugin_workertest.entry_hook import WorkerEntryHook

    return WorkerEntryHook
