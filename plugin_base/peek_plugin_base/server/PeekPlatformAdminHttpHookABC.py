"""HTTP hook for the server's admin site."""

from abc import ABCMeta, abstractmethod

from twisted.web.resource import IResource


class PeekPlatformAdminHttpHookABC(metaclass=ABCMeta):
    """Mounts this plugin's HTTP resources under ``/<pluginName>/``.

    The site: the server's admin site.
    Everything a plugin mounts is removed again when the plugin unloads or fails.
    """

    @abstractmethod
    def addAdminResource(self, pluginSubPath: bytes, resource: IResource) -> None:
        """Serve ``resource`` at ``/<pluginName>/<pluginSubPath>``."""

    @abstractmethod
    def addAdminStaticResourceDir(self, dir: str) -> None:  # noqa: A002 - seed's name
        """Serve the files under ``dir`` below ``/<pluginName>/``."""

    @property
    @abstractmethod
    def rootAdminResource(self) -> IResource:
        """This plugin's root resource on the site (``/<pluginName>``)."""
