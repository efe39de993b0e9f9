"""The monitoring example plugin (seed 003's event plugin): monitoring points to a sink."""

__version__ = "0.1.0"


def peekServerEntryHook() -> type:
    from peek_plugin_base.base_plugins import entryHookFor
    from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
    from peek_plugin_monitoring.plugin import RequestMonitoringPlugin

    return entryHookFor(RequestMonitoringPlugin, PluginServerEntryHookABC)


def peekClientEntryHook() -> type:
    from peek_plugin_base.base_plugins import entryHookFor
    from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
    from peek_plugin_monitoring.plugin import RequestMonitoringPlugin

    return entryHookFor(RequestMonitoringPlugin, PluginClientEntryHookABC)


def peekAgentEntryHook() -> type:
    from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
    from peek_plugin_base.base_plugins import entryHookFor
    from peek_plugin_monitoring.plugin import RequestMonitoringPlugin

    return entryHookFor(RequestMonitoringPlugin, PluginAgentEntryHookABC)
