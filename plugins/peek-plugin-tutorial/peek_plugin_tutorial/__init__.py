"""The tutorial plugin: the root package only says which entry hook runs on each service."""


from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC

__version__ = "0.0.1"


def peekServerEntryHook() -> type[PluginServerEntryHookABC]:
    # Imported here so loading the package for one service never imports the others' code.
    from peek_plugin_tutorial._private.server.ServerEntryHook import ServerEntryHook

    return ServerEntryHook


def peekClientEntryHook() -> type[PluginClientEntryHookABC]:
    from peek_plugin_tutorial._private.client.ClientEntryHook import ClientEntryHook

    return ClientEntryHook


def peekAgentEntryHook() -> type[PluginAgentEntryHookABC]:
    from peek_plugin_tutorial._private.agent.AgentEntryHook import AgentEntryHook

    return AgentEntryHook


def peekWorkerEntryHook() -> type[PluginWorkerEntryHookABC]:
    from peek_plugin_tutorial._private.worker.WorkerEntryHook import WorkerEntryHook

    return WorkerEntryHook
