"""The plugin host: discovers, orders, loads, starts, stops and unloads plugins."""

from peek_platform.plugin.host import PluginHost, PluginRecord, PluginState, ServicePluginSpec

__all__ = ["PluginHost", "PluginRecord", "PluginState", "ServicePluginSpec"]
