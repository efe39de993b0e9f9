"""Each service's per-plugin platform hook (the services and the plugin test harness use them)."""

from typing import Any, Optional

from peek_platform.plugin.platform_hook import (
    PlatformHookBase,
    ServerInfoHookMixin,
    site_hook_mixin,
)
from peek_platform.storage.service import StorageService
from peek_plugin_base.agent.PeekAgentPlatformHookABC import PeekAgentPlatformHookABC
from peek_plugin_base.client.PeekClientPlatformHookABC import PeekClientPlatformHookABC
from peek_plugin_base.server.PeekServerPlatformHookABC import PeekServerPlatformHookABC
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.worker.PeekWorkerPlatformHookABC import PeekWorkerPlatformHookABC


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


class ClientPlatformHook(
    PlatformHookBase, ServerInfoHookMixin, site_hook_mixin("Mobile"), site_hook_mixin("Desktop"),
    PeekClientPlatformHookABC,
):
    """Gives a client-side plugin its mobile and desktop site mounts.

    Construct it with ``sites={"Mobile": mobile_root, "Desktop": desktop_root}``.
    """


class AgentPlatformHook(PlatformHookBase, ServerInfoHookMixin, PeekAgentPlatformHookABC):
    """Other plugins' APIs, the server's address and file storage for agent-side plugins."""


class WorkerPlatformHook(PlatformHookBase, ServerInfoHookMixin, PeekWorkerPlatformHookABC):
    """Other plugins' APIs, the server's address and file storage for worker-side plugins."""
