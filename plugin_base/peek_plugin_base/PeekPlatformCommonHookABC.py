"""What the platform offers every plugin, whatever the service."""

from abc import ABCMeta, abstractmethod
from typing import Optional


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
