"""Where the server service is, for plugins on the other services."""

from abc import ABCMeta, abstractmethod


class PeekPlatformServerInfoHookABC(metaclass=ABCMeta):
    """The address of the server's platform (service-to-service) HTTP site."""

    @property
    @abstractmethod
    def peekServerHost(self) -> str:
        """The host name or IP address of the server service."""

    @property
    @abstractmethod
    def peekServerHttpPort(self) -> int:
        """The TCP port of the server's platform HTTP site (not the admin site)."""
