"""A site root where each plugin owns ``/<pluginName>/`` and its mounts are undone on unload."""

import os

from twisted.web.resource import IResource, Resource
from twisted.web.server import Request
from twisted.web.static import File

from peek_plugin_base.registrations import RegistrationLog


class PluginResource(Resource):
    """A plugin's root on a site: resources it mounted, then its static directories."""

    def __init__(self) -> None:
        super().__init__()
        self.static_dirs: list[str] = []

    def getChild(self, path: bytes, request: Request) -> IResource:  # noqa: N802 - twisted API
        name = path.decode("utf-8", "replace")
        for directory in self.static_dirs:
            candidate = os.path.join(directory, name)
            if name and os.path.exists(candidate):
                return File(candidate)
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        for directory in self.static_dirs:
            index = os.path.join(directory, "index.html")
            if os.path.isfile(index):
                return File(index).render_GET(request)
        request.setResponseCode(404)
        return b"Not found"


class PluginSiteRoot(Resource):
    """The root resource of one site (admin, platform, mobile or desktop)."""

    def __init__(self, site_name: str) -> None:
        super().__init__()
        self.site_name = site_name

    def getChild(self, path: bytes, request: Request) -> IResource:  # noqa: N802 - twisted API
        if path == b"":  # "/" is the root itself
            return self
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return f"Peek {self.site_name} site\n".encode()

    def mount_for(self, plugin_name: str, registrations: RegistrationLog) -> "PluginMount":
        """The handle a plugin's platform hook uses to mount things on this site."""
        return PluginMount(self, plugin_name, registrations)


class PluginMount:
    """One plugin's view of one site; creates ``/<pluginName>/`` on first use."""

    def __init__(
        self, site_root: PluginSiteRoot, plugin_name: str, registrations: RegistrationLog
    ) -> None:
        self._site_root = site_root
        self._path = plugin_name.encode()
        self._registrations = registrations

    @property
    def root(self) -> PluginResource:
        """The plugin's root resource, mounted at ``/<pluginName>`` when first asked for."""
        existing = self._site_root.children.get(self._path)
        if isinstance(existing, PluginResource):
            return existing
        resource = PluginResource()
        self._site_root.putChild(self._path, resource)
        self._registrations.add(
            f"/{self._path.decode()} on the {self._site_root.site_name} site",
            lambda: self._site_root.children.pop(self._path, None),
        )
        return resource

    def add_resource(self, sub_path: bytes, resource: IResource) -> None:
        """Serve ``resource`` at ``/<pluginName>/<sub_path>``."""
        if isinstance(sub_path, str):
            sub_path = sub_path.encode()
        self.root.putChild(sub_path, resource)

    def add_static_dir(self, directory: str) -> None:
        """Serve the files of ``directory`` below ``/<pluginName>/``."""
        if not os.path.isdir(directory):
            raise NotADirectoryError(f"static resource directory {directory} does not exist")
        self.root.static_dirs.append(directory)
