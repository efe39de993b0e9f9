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
    def addAdminStaticResourceDir(
        self, dir: str, listDirectories: bool = False  # noqa: A002 - seed's name
    ) -> None:
        """Serve the files under ``dir`` below ``/<pluginName>/``.

        Nothing outside ``dir`` is reachable (no ``..``, encoded slashes, or symlinks
        pointing out of it); a folder's ``index.html`` is its page, and folders without
        one are listed only if ``listDirectories`` is true (404 otherwise).
        """

    @property
    @abstractmethod
    def rootAdminResource(self) -> IResource:
        """This plugin's root resource on the site (``/<pluginName>``)."""
