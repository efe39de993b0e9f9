"""The parts of the per-plugin platform hook that every service shares."""

import copy
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from twisted.web.resource import IResource

from peek_platform.config import ServiceConfig
from peek_platform.events.dispatcher import default_dispatcher
from peek_platform.plugin.host import PluginHost
from peek_platform.web.plugin_site import PluginMount, PluginResource, PluginSiteRoot
from peek_plugin_base.endpoints import EndpointHandler
from peek_plugin_base.events import EventHandler, PeekPlatformEventHookABC
from peek_plugin_base.PeekPlatformCommonHookABC import PeekPlatformCommonHookABC
from peek_plugin_base.PeekPlatformFileStorageHookABC import PeekPlatformFileStorageHookABC
from peek_plugin_base.PeekPlatformServerInfoHookABC import PeekPlatformServerInfoHookABC
from peek_vortex import OwnershipScope

if TYPE_CHECKING:
    from peek_platform.web.endpoints import EndpointHub


class PlatformHookBase(
    PeekPlatformCommonHookABC, PeekPlatformFileStorageHookABC, PeekPlatformEventHookABC
):
    """Other plugins' APIs, the service id, the plugin's file storage folder and platform
    event subscriptions."""

    def __init__(
        self,
        host: PluginHost,
        plugin_name: str,
        registrations: OwnershipScope,
        config: ServiceConfig,
        sites: Optional[dict[str, PluginSiteRoot]] = None,
        endpoints: Optional["EndpointHub"] = None,
    ) -> None:
        self._host = host
        self._endpoints = endpoints
        self._plugin_name = plugin_name
        self._registrations = registrations
        self._config = config
        #: This plugin's mount on each of the service's sites, by hook prefix ("Admin", ...).
        self._mounts: dict[str, PluginMount] = {
            prefix: root.mount_for(plugin_name, registrations)
            for prefix, root in (sites or {}).items()
        }

    def getOtherPluginApi(self, pluginName: str) -> Optional[object]:  # noqa: N802, N803
        return self._host.published_api(pluginName)

    @property
    def pluginParams(self) -> Mapping[str, Any]:  # noqa: N802
        params = self._config["plugin.params"].get(self._plugin_name, {})
        return copy.deepcopy(params)  # type: ignore[no-any-return]

    def addJsonEndpoint(  # noqa: N802
        self,
        path: str,
        handler: EndpointHandler,
        methods: Sequence[str] = ("GET",),
        requireApiKey: bool = True,  # noqa: N803
    ) -> None:
        if self._endpoints is None:
            raise NotImplementedError(
                f"the {self._config.service} service does not serve HTTP endpoints")
        site = self._endpoints.site_for(self._plugin_name)
        undo = self._endpoints.add_route(site, self._plugin_name, path, handler, methods,
                                         requireApiKey)
        self._registrations.add(f"endpoint {path} on the {site} site", undo)

    @property
    def serviceId(self) -> str:  # noqa: N802
        return f"{self._config.service}|{socket.gethostname()}"

    def subscribeToEvents(  # noqa: N802
        self,
        eventName: str,  # noqa: N803
        handler: EventHandler,
        maxBatch: Optional[int] = None,  # noqa: N803
        maxQueue: Optional[int] = None,  # noqa: N803
    ) -> Callable[[], None]:
        subscription = default_dispatcher().subscribe(
            eventName, handler, owner=f"plugin {self._plugin_name}",
            max_batch=maxBatch, max_queue=maxQueue,
        )
        # Ends with the plugin (unload, failure, reload) even if it never unsubscribes.
        self._registrations.add(f"subscription to {eventName} events", subscription.cancel)
        return subscription.cancel

    @property
    def fileStorageDirectory(self) -> Path:  # noqa: N802
        path = self._config.home / "plugin-data" / self._plugin_name
        path.mkdir(parents=True, exist_ok=True)
        return path


class ServerInfoHookMixin(PeekPlatformServerInfoHookABC):
    """The server's address, from ``peekServer.host`` and ``peekServer.httpPort``."""

    _config: ServiceConfig

    @property
    def peekServerHost(self) -> str:  # noqa: N802
        return str(self._config["peekServer.host"])

    @property
    def peekServerHttpPort(self) -> int:  # noqa: N802
        return int(self._config["peekServer.httpPort"])


def site_hook_mixin(prefix: str) -> type:
    """A mixin implementing one HTTP hook ABC of the contract for the site named ``prefix``.

    The contract names the same three members per site (``add<Prefix>Resource``,
    ``add<Prefix>StaticResourceDir``, ``root<Prefix>Resource``); they all delegate to the
    plugin's mount on that site, held by :class:`PlatformHookBase`.
    """

    def add_resource(self: Any, pluginSubPath: bytes, resource: IResource) -> None:
        self._mounts[prefix].add_resource(pluginSubPath, resource)

    def add_static_dir(
        self: Any, dir: str, listDirectories: bool = False  # noqa: A002 - the contract's name
    ) -> None:
        self._mounts[prefix].add_static_dir(dir, list_directories=listDirectories)

    def root(self: Any) -> PluginResource:
        return self._mounts[prefix].root

    return type(
        f"{prefix}SiteHookMixin",
        (),
        {
            f"add{prefix}Resource": add_resource,
            f"add{prefix}StaticResourceDir": add_static_dir,
            f"root{prefix}Resource": property(root),
        },
    )
