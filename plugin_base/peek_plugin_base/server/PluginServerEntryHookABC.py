"""The entry hook a plugin returns from ``peekServerEntryHook()``."""

from typing import Optional

from peek_plugin_base.PluginCommonEntryHookABC import PluginPlatformEntryHookBase
from peek_plugin_base.server.PeekServerPlatformHookABC import PeekServerPlatformHookABC


class PluginServerEntryHookABC(PluginPlatformEntryHookBase[PeekServerPlatformHookABC]):
    """A plugin's presence in the server service."""

    @property
    def publishedServerApi(self) -> Optional[object]:
        """The API other server-side plugins get from ``getOtherPluginApi``; None if none."""
        return None
