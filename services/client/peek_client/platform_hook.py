"""The client service's per-plugin platform hook."""

from twisted.web.resource import IResource

from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost
from peek_platform.plugin.platform_hook import PlatformHookBase, ServerInfoHookMixin
from peek_platform.web.plugin_site import PluginResource, PluginSiteRoot
from peek_plugin_base.client.PeekClientPlatformHookABC import PeekClientPlatformHookABC
from peek_plugin_base.registrations import RegistrationLog


class ClientPlatformHook(PlatformHookBase, ServerInfoHookMixin, PeekClientPlatformHookABC):
    """Gives a client-side plugin its mobile and desktop site mounts."""

    def __init__(
        self,
        host: PluginHost,
        plugin_name: str,
        registrations: RegistrationLog,
        config: ServiceConfig,
        mobile_root: PluginSiteRoot,
        desktop_root: PluginSiteRoot,
    ) -> None:
        super().__init__(host, plugin_name, registrations, config)
        self._mobile = mobile_root.mount_for(plugin_name, registrations)
        self._desktop = desktop_root.mount_for(plugin_name, registrations)

    def addMobileResource(self, pluginSubPath: bytes, resource: IResource) -> None:  # noqa: N802, N803
        self._mobile.add_resource(pluginSubPath, resource)

    def addMobileStaticResourceDir(self, dir: str) -> None:  # noqa: N802, A002
        self._mobile.add_static_dir(dir)

    @property
    def rootMobileResource(self) -> PluginResource:  # noqa: N802
        return self._mobile.root

    def addDesktopResource(self, pluginSubPath: bytes, resource: IResource) -> None:  # noqa: N802, N803
        self._desktop.add_resource(pluginSubPath, resource)

    def addDesktopStaticResourceDir(self, dir: str) -> None:  # noqa: N802, A002
        self._desktop.add_static_dir(dir)

    @property
    def rootDesktopResource(self) -> PluginResource:  # noqa: N802
        return self._desktop.root
