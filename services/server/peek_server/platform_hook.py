"""The server's per-plugin platform hook."""

from typing import Any, Optional

from peek_platform.plugin.platform_hook import PlatformHookBase, site_hook_mixin
from peek_platform.storage.service import StorageService
from peek_plugin_base.server.PeekServerPlatformHookABC import PeekServerPlatformHookABC
from peek_plugin_base.storage.DbConnection import DbConnection


class ServerPlatformHook(
    PlatformHookBase, site_hook_mixin("Admin"), site_hook_mixin("Server"),
    PeekServerPlatformHookABC,
):
    """Gives a server-side plugin its site mounts, the DB URL and its migrated storage.

    Construct it with ``sites={"Admin": admin_root, "Server": platform_root}`` and the
    server's storage service.
    """

    def __init__(
        self, *args: Any, storage: Optional[StorageService] = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._storage = storage

    @property
    def dbConnectString(self) -> str:
        return str(self._config["sqlalchemy.connectUrl"])

    @property
    def dbConnection(self) -> Optional[DbConnection]:
        if self._storage is None:
            return None
        return self._storage.connection_for(self._plugin_name)
