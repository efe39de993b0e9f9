"""The server's per-plugin platform hook."""

from typing import Optional

from twisted.web.resource import IResource

from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost
from peek_platform.plugin.platform_hook import PlatformHookBase
from peek_platform.storage.service import StorageService
from peek_platform.web.plugin_site import PluginResource, PluginSiteRoot
from peek_plugin_base.registrations import RegistrationLog
from peek_plugin_base.server.PeekServerPlatformHookABC import PeekServerPlatformHookABC
from peek_plugin_base.storage.DbConnection import DbConnection


class ServerPlatformHook(PlatformHookBase, PeekServerPlatformHookABC):
    """Gives a server-side plugin its site mounts, the DB URL and its migrated storage."""

    def __init__(
        self,
        host: PluginHost,
        plugin_name: str,
        registrations: RegistrationLog,
        config: ServiceConfig,
        admin_root: PluginSiteRoot,
        platform_root: PluginSiteRoot,
        storage: Optional[StorageService] = None,
    ) -> None:
        super().__init__(host, plugin_name, registrations, config)
        self._storage = storage
        self._admin = admin_root.mount_for(plugin_name, registrations)
        self._server = platform_root.mount_for(plugin_name, registrations)

    def addAdminResource(self, pluginSubPath: bytes, resource: IResource) -> None:  # noqa: N802, N803
        self._admin.add_resource(pluginSubPath, resource)

    def addAdminStaticResourceDir(self, dir: str) -> None:  # noqa: N802, A002
        self._admin.add_static_dir(dir)

    @property
    def rootAdminResource(self) -> PluginResource:  # noqa: N802
        return self._admin.root

    def addServerResource(self, pluginSubPath: bytes, resource: IResource) -> None:  # noqa: N802, N803
        self._server.add_resource(pluginSubPath, resource)

    def addServerStaticResourceDir(self, dir: str) -> None:  # noqa: N802, A002
        self._server.add_static_dir(dir)

    @property
    def rootServerResource(self) -> PluginResource:  # noqa: N802
        return self._server.root

    @property
    def dbConnectString(self) -> str:  # noqa: N802
        return str(self._config["sqlalchemy.connectUrl"])

    @property
    def dbConnection(self) -> Optional[DbConnection]:  # noqa: N802
        if self._storage is None:
            return None
        return self._storage.connection_for(self._plugin_name)
