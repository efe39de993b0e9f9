"""What the platform offers every plugin, whatever the service."""

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from peek_plugin_base.endpoints import EndpointHandler


class PeekPlatformCommonHookABC(metaclass=ABCMeta):
    """The per-plugin handle on the hosting service."""

    @abstractmethod
    def getOtherPluginApi(self, pluginName: str) -> Optional[object]:
        """Return another plugin's published API for this service, or None.

        The API is the other plugin's ``published<Service>Api`` property; it is available
        once that plugin is loaded, so look it up in ``start()``.
        """

    @property
    @abstractmethod
    def serviceId(self) -> str:
        """A unique identifier of this service process, ``"<service>|<hostname>"``."""

    @property
    def pluginParams(self) -> Mapping[str, Any]:  # noqa: N802 - the contract's name
        """This plugin's parameters: the ``plugin.params.<pluginName>`` object of the
        service's config.json (empty when it has none). A copy: changing it changes nothing.
        """
        return {}

    def addJsonEndpoint(  # noqa: N802 - the contract's name
        self,
        path: str,
        handler: "EndpointHandler",
        methods: Sequence[str] = ("GET",),
        requireApiKey: bool = True,  # noqa: N803
    ) -> None:
        """Serve ``handler`` as a JSON route at ``path`` (``/name/{param}/...``).

        The route lives on the service's endpoint site for this plugin (server: the
        platform site unless ``httpServer.endpointSites`` says otherwise; client: mobile)
        and is removed when the plugin stops or fails. Callers must send an API key
        admitting this plugin in ``X-Api-Key`` unless ``requireApiKey`` is False. See
        :mod:`peek_plugin_base.endpoints`. Raises ValueError when the path is malformed
        or already taken, NotImplementedError on services without HTTP sites.
        """
        raise NotImplementedError("this service does not serve HTTP endpoints")
