"""The entry hook a plugin returns from ``peekClientEntryHook()``."""

from typing import Optional

from peek_plugin_base.client.PeekClientPlatformHookABC import PeekClientPlatformHookABC
from peek_plugin_base.PluginCommonEntryHookABC import PluginPlatformEntryHookBase


class PluginClientEntryHookABC(PluginPlatformEntryHookBase[PeekClientPlatformHookABC]):
    """A plugin's presence in a client service."""

    @property
    def publishedClientApi(self) -> Optional[object]:
        """The API other client-side plugins get from ``getOtherPluginApi``; None if none."""
        return None
