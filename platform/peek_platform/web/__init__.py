"""HTTP sites built on twisted.web, with a mount point per plugin."""

from peek_platform.web.plugin_site import PluginMount, PluginResource, PluginSiteRoot

__all__ = ["PluginMount", "PluginResource", "PluginSiteRoot"]
