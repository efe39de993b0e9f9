"""The server's per-plugin platform hook."""

from peek_platform.plugin.platform_hook import PlatformHookBase, site_hook_mixin
from peek_plugin_base.server.PeekServerPlatformHookABC import PeekServerPlatformHookABC


class ServerPlatformHook(
    PlatformHookBase, site_hook_mixin("Admin"), site_hook_mixin("Server"),
    PeekServerPlatformHookABC,
):
    """Gives a server-side plugin its admin and platform site mounts and the DB URL.

    Construct it with ``sites={"Admin": admin_root, "Server": platform_root}``.
    """

    @property
    def dbConnectString(self) -> str:
        return str(self._config["sqlalchemy.connectUrl"])
