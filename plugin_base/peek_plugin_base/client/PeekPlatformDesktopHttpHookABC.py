"""HTTP hook for the client service's desktop site."""

from abc import ABCMeta, abstractmethod

from twisted.web.resource import IResource


class PeekPlatformDesktopHttpHookABC(metaclass=ABCMeta):
    """Mounts this plugin's HTTP resources under ``/<pluginName>/``.

    The site: the client service's desktop site.
    Everything a plugin mounts is removed again when the plugin unloads or fails.
    """

    @abstractmethod
    def addDesktopResource(self, pluginSubPath: bytes, resource: IResource) -> None:
        """Serve ``resource`` at ``/<pluginName>/<pluginSubPath>``."""

    @abstractmethod
    def addDesktopStaticResourceDir(self, dir: str) -> None:  # noqa: A002 - seed's name
        """Serve the files under ``dir`` below ``/<pluginName>/``."""

    @property
    @abstractmethod
    def rootDesktopResource(self) -> IResource:
        """This plugin's root resource on the site (``/<pluginName>``)."""
