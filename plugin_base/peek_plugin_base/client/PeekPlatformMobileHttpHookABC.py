"""HTTP hook for the client service's mobile site."""

from abc import ABCMeta, abstractmethod

from twisted.web.resource import IResource


class PeekPlatformMobileHttpHookABC(metaclass=ABCMeta):
    """Mounts this plugin's HTTP resources under ``/<pluginName>/``.

    The site: the client service's mobile site.
    Everything a plugin mounts is removed again when the plugin unloads or fails.
    """

    @abstractmethod
    def addMobileResource(self, pluginSubPath: bytes, resource: IResource) -> None:
        """Serve ``resource`` at ``/<pluginName>/<pluginSubPath>``."""

    @abstractmethod
    def addMobileStaticResourceDir(self, dir: str) -> None:  # noqa: A002 - seed's name
        """Serve the files under ``dir`` below ``/<pluginName>/``."""

    @property
    @abstractmethod
    def rootMobileResource(self) -> IResource:
        """This plugin's root resource on the site (``/<pluginName>``)."""
