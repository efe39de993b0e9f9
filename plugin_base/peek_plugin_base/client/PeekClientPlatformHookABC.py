"""The client service's per-plugin platform hook."""

from peek_plugin_base.client.PeekPlatformDesktopHttpHookABC import (
    PeekPlatformDesktopHttpHookABC,
)
from peek_plugin_base.client.PeekPlatformMobileHttpHookABC import PeekPlatformMobileHttpHookABC
from peek_plugin_base.PeekPlatformCommonHookABC import PeekPlatformCommonHookABC
from peek_plugin_base.PeekPlatformFileStorageHookABC import PeekPlatformFileStorageHookABC
from peek_plugin_base.PeekPlatformServerInfoHookABC import PeekPlatformServerInfoHookABC


class PeekClientPlatformHookABC(
    PeekPlatformCommonHookABC,
    PeekPlatformMobileHttpHookABC,
    PeekPlatformDesktopHttpHookABC,
    PeekPlatformServerInfoHookABC,
    PeekPlatformFileStorageHookABC,
):
    """What the client service offers each plugin: other APIs, device sites, files."""
