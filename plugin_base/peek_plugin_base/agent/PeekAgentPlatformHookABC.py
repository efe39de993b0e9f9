"""The agent service's per-plugin platform hook."""

from peek_plugin_base.PeekPlatformCommonHookABC import PeekPlatformCommonHookABC
from peek_plugin_base.PeekPlatformFileStorageHookABC import PeekPlatformFileStorageHookABC
from peek_plugin_base.PeekPlatformServerInfoHookABC import PeekPlatformServerInfoHookABC


class PeekAgentPlatformHookABC(
    PeekPlatformCommonHookABC, PeekPlatformServerInfoHookABC, PeekPlatformFileStorageHookABC
):
    """What the agent service offers each plugin: other APIs, the server's address, files."""
