"""A site root where each plugin owns ``/<pluginName>/`` and its mounts are undone on unload."""

import json
import os
from typing import Any, Optional

from twisted.web.resource import IResource, Resource
from twisted.web.server import Request
from twisted.web.static import File

from peek_platform.plugin.gate import PluginGate
from peek_vortex import OwnershipScope

#: Seconds a client is told to wait before retrying a plugin that is reloading.
RETRY_AFTER_SECONDS = 2


class StaticFolder(File):
    """A folder served read-only that no request can leave.

    Twisted's ``File`` already refuses children containing ``/`` or naming ``..``; this
    also refuses NUL bytes and anything whose real path (symlinks resolved) lies outside
    the folder the plugin registered, and lists directories only when asked to.
    """

    indexNames = ["index.html"]
    # Browsers run ES modules only when served with a JavaScript type; the system's
    # mime.types (which Twisted reads) differs between distributions, so these are fixed.
    contentTypes = {
        **File.contentTypes,
        ".js": "text/javascript; charset=utf-8",
        ".mjs": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".webmanifest": "application/manifest+json",
        ".css": "text/css; charset=utf-8",
        ".html": "text/html; charset=utf-8",
        ".svg": "image/svg+xml",
    }

    def __init__(self, path: str, root: Optional[str] = None,
                 list_directories: bool = False) -> None:
        super().__init__(path)
        #: The registered folder, symlinks resolved: nothing outside it is served.
        self.root = os.path.realpath(root if root is not None else path)
        self.list_directories = list_directories

    def contains(self, path: str) -> bool:
        """Whether ``path`` (symlinks resolved) is the registered folder or inside it."""
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root + os.sep)

    def getChild(self, path: bytes, request: Request) -> IResource:  # noqa: N802 - twisted API
        if b"\x00" in path:
            return self.childNotFound
        try:
            path.decode("utf-8")
        except UnicodeDecodeError:
            # File logs an error per undecodable segment: a client could flood the log.
            return self.childNotFound
        child = super().getChild(path, request)
        if isinstance(child, File) and not self.contains(child.path):
            return self.childNotFound
        return child

    def directoryListing(self) -> IResource:  # noqa: N802 - twisted API
        # A listing shows every name in the folder: only a plugin that asks gets one.
        if self.list_directories:
            return super().directoryListing()
        return self.childNotFound

    def createSimilarFile(self, path: str) -> "StaticFolder":  # noqa: N802 - twisted API
        similar = StaticFolder(path, self.root, self.list_directories)
        similar.indexNames = self.indexNames[:]
        return similar


class PluginResource(Resource):
    """A plugin's root on a site: resources it mounted, then its static folders."""

    def __init__(self) -> None:
        super().__init__()
        self.static_folders: list[StaticFolder] = []

    def getChild(self, path: bytes, request: Request) -> IResource:  # noqa: N802 - twisted API
        if path == b"":  # "/<pluginName>/" is the plugin's root page, as "/<pluginName>" is
            return self
        for folder in self.static_folders:
            child = folder.getChild(path, request)
            if child is not folder.childNotFound:
                return child
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        for folder in self.static_folders:
            page = folder.getChild(b"", request)  # its index.html (or listing, if asked for)
            if page is not folder.childNotFound:
                return page.render(request)  # type: ignore[no-any-return]
        request.setResponseCode(404)
        return b"Not found"


class PluginUnavailable(Resource):
    """503 for every request into a plugin the host is reloading; says why, as JSON."""

    isLeaf = True

    def __init__(self, plugin_name: str, reason: str) -> None:
        super().__init__()
        self.plugin_name = plugin_name
        self.reason = reason

    def render(self, request: Request) -> bytes:
        request.setResponseCode(503)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"retry-after", str(RETRY_AFTER_SECONDS).encode())
        body: dict[str, Any] = {
            "error": "PluginReloading",
            "plugin": self.plugin_name,
            "message": f"plugin {self.plugin_name} is {self.reason}; retry shortly",
        }
        return json.dumps(body).encode() + b"\n"


class PluginSiteRoot(Resource):
    """The root resource of one site (admin, platform, mobile or desktop)."""

    def __init__(self, site_name: str) -> None:
        super().__init__()
        self.site_name = site_name
        #: The plugin host's gate (set by the service builder): which plugins are
        #: reloading, and how many requests are inside each.
        self.gate: Optional[PluginGate] = None

    def getChildWithDefault(  # noqa: N802 - twisted API
        self, path: bytes, request: Request
    ) -> IResource:
        # Twisted looks mounted children up here (getChild only sees the rest), so the
        # reload gate sits here too.
        gate = self.gate
        if gate is not None and path:
            name = path.decode("utf-8", "replace")
            reason = gate.closed_reason(name)
            if reason is not None:
                return PluginUnavailable(name, reason)
            if isinstance(self.children.get(path), PluginResource):
                # Counted until the response ends, so a reload can wait for it.
                gate.enter(name)
                request.notifyFinish().addBoth(lambda _: gate.leave(name))
        return super().getChildWithDefault(path, request)

    def getChild(self, path: bytes, request: Request) -> IResource:  # noqa: N802 - twisted API
        if path == b"":  # "/" is the root itself
            return self
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return f"Peek {self.site_name} site\n".encode()

    def mount_for(self, plugin_name: str, registrations: OwnershipScope) -> "PluginMount":
        """The handle a plugin's platform hook uses to mount things on this site."""
        return PluginMount(self, plugin_name, registrations)


class PluginMount:
    """One plugin's view of one site; creates ``/<pluginName>/`` on first use."""

    def __init__(
        self, site_root: PluginSiteRoot, plugin_name: str, registrations: OwnershipScope
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

    def add_static_dir(self, directory: str, list_directories: bool = False) -> None:
        """Serve the files of ``directory`` below ``/<pluginName>/``; folders are listed
        only with ``list_directories``."""
        if not os.path.isdir(directory):
            raise NotADirectoryError(f"static resource directory {directory} does not exist")
        self.root.static_folders.append(StaticFolder(directory, list_directories=list_directories))
