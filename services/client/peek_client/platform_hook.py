"""The client service's per-plugin platform hook."""

from peek_platform.plugin.platform_hook import (
    PlatformHookBase,
    ServerInfoHookMixin,
    site_hook_mixin,
)
from peek_plugin_base.client.PeekClientPlatformHookABC import PeekClientPlatformHookABC


class ClientPlatformHook(
    PlatformHookBase, ServerInfoHookMixin, site_hook_mixin("Mobile"), site_hook_mixin("Desktop"),
    PeekClientPlatformHookABC,
):
    """Gives a client-side plugin its mobile and desktop site mounts.

    Construct it with ``sites={"Mobile": mobile_root, "Desktop": desktop_root}``.
    """
