"""The entry hook a plugin returns from ``peekAgentEntryHook()``."""

from typing import Optional

from peek_plugin_base.agent.PeekAgentPlatformHookABC import PeekAgentPlatformHookABC
from peek_plugin_base.PluginCommonEntryHookABC import PluginPlatformEntryHookBase


class PluginAgentEntryHookABC(PluginPlatformEntryHookBase[PeekAgentPlatformHookABC]):
    """A plugin's presence in an agent service."""

    @property
    def publishedAgentApi(self) -> Optional[object]:
        """The API other agent-side plugins get from ``getOtherPluginApi``; None if none."""
        return None
