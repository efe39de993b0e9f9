"""The device app shell of the client's mobile and desktop sites, and the plugin UIs it loads.

A plugin contributes a device UI by declaring, in ``plugin_package.json``, a ``mobile`` and/or
``desktop`` section::

    "mobile": {"webDir": "_private/device-app", "entry": "mobile.js",
               "icon": "icon.svg", "home": true, "title": "Tutorial"}

``webDir`` is a folder inside the plugin package, ``entry`` an ES module inside that folder
(it exports ``mount(root, app)``), ``icon`` an optional image inside it, ``home`` whether the
home page lists it (default true) and ``title`` the name shown (default: ``plugin.title``).
Each section is validated when the plugin loads on the client service; a wrong one fails the
plugin with a :class:`~peek_platform.errors.PluginDeviceUiError` naming the key.

Each site then serves:

- ``/`` and ``/<pluginName>/``: the shell page (one static HTML file; its script decides
  which app to show from the path);
- ``/peek/shell/...``: the shell's script and style sheet;
- ``/peek/plugins.json``: the enabled plugins with a UI on this site, and the cache version;
- ``/sw.js``: the service worker, holding the cache version and the files to pre-cache;
- ``/<pluginName>/<file>``: the plugin's ``webDir``, through :class:`StaticFolder` (nothing
  outside the folder is reachable).

The version is a hash of the platform's web files and of every listed plugin's name, version
and UI files (path, size, modification time), so any change installs a new service worker
that pre-caches the new files and drops the old cache.
"""

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Optional

from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from peek_platform.errors import PluginDeviceUiError
from peek_platform.plugin.host import PluginRecord
from peek_platform.web.peek_static import JS_DIR, mount_peek_static
from peek_platform.web.plugin_site import PluginMount, PluginSiteRoot, StaticFolder
from peek_vortex import OwnershipScope

logger = logging.getLogger(__name__)

#: The shell's own files (page, script, style sheet, service worker body).
SHELL_DIR = Path(__file__).parent / "shell"
#: The sites that have a device UI, as named in plugin_package.json.
DEVICE_SITES = ("mobile", "desktop")
#: Keys a device UI section may have.
UI_KEYS = frozenset({"webDir", "entry", "icon", "home", "title"})
#: A plugin's UI folder larger than this is not pre-cached whole (the rest caches on use).
MAX_PRECACHE_FILES = 500
#: Files whose names start with these are never listed for pre-caching.
_HIDDEN_PREFIXES = (".", "__")


@dataclass(frozen=True)
class DeviceUi:
    """One plugin's UI on one device site, validated."""

    plugin_name: str
    site: str
    title: str
    version: str
    #: The plugin's UI folder, symlinks resolved.
    web_dir: str
    #: The entry module, relative to ``web_dir`` (POSIX separators).
    entry: str
    #: The icon file relative to ``web_dir``, if any.
    icon: Optional[str]
    home: bool

    @property
    def base_url(self) -> str:
        """Where the plugin's page and files are: ``/<pluginName>/``."""
        return f"/{self.plugin_name}/"

    def as_listing(self) -> dict[str, Any]:
        """The entry of ``/peek/plugins.json`` for this plugin."""
        return {
            "name": self.plugin_name,
            "title": self.title,
            "version": self.version,
            "url": self.base_url,
            "entry": self.base_url + self.entry,
            "icon": self.base_url + self.icon if self.icon else None,
            "home": self.home,
        }

    def files(self) -> Iterator[str]:
        """The UI's files, relative to ``web_dir``, skipping hidden ones and anything a
        symlink takes outside the folder."""
        folder = StaticFolder(self.web_dir)
        for dirpath, dirnames, filenames in os.walk(self.web_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(_HIDDEN_PREFIXES))
            for filename in sorted(filenames):
                full = os.path.join(dirpath, filename)
                if filename.startswith(_HIDDEN_PREFIXES) or not folder.contains(full):
                    continue
                yield PurePosixPath(Path(full).relative_to(self.web_dir)).as_posix()


def _inside_file(plugin: str, key: str, folder: str, value: Any, what: str) -> str:
    """``value`` as a relative POSIX path naming an existing file inside ``folder``."""
    if not isinstance(value, str) or not value.strip():
        raise PluginDeviceUiError(plugin, key, f"must be a non-empty relative path to {what}")
    path = PurePosixPath(value)
    if path.is_absolute() or "\\" in value or "\x00" in value or ".." in path.parts:
        raise PluginDeviceUiError(
            plugin, key, f"{value!r} must be a relative path inside the plugin's UI folder"
        )
    real = os.path.realpath(os.path.join(folder, *path.parts))
    if not real.startswith(folder + os.sep):
        raise PluginDeviceUiError(plugin, key, f"{value!r} resolves outside {folder}")
    if not os.path.isfile(real):
        raise PluginDeviceUiError(plugin, key, f"{value!r}: no such file in {folder}")
    return path.as_posix()


def parse_device_ui(
    plugin_name: str, root_dir: str, package_cfg: dict[str, Any], site: str
) -> Optional[DeviceUi]:
    """The plugin's UI on ``site`` ("mobile" or "desktop"), or None if it declares none.

    Raises :class:`PluginDeviceUiError` naming the key when the section is unusable: not an
    object, an unknown key, a folder or file outside the plugin package (absolute paths,
    ``..``, symlinks pointing out), a missing folder or file, or a wrong type.
    """
    section = package_cfg.get(site)
    if section is None or section == {}:
        return None
    if not isinstance(section, dict):
        raise PluginDeviceUiError(plugin_name, site, "must be an object")
    unknown = sorted(set(section) - UI_KEYS)
    if unknown:
        raise PluginDeviceUiError(
            plugin_name, f"{site}.{unknown[0]}",
            f"unknown key (a device UI section has {', '.join(sorted(UI_KEYS))})",
        )
    root = os.path.realpath(root_dir)
    web_dir_value = section.get("webDir")
    if not isinstance(web_dir_value, str) or not web_dir_value.strip():
        raise PluginDeviceUiError(
            plugin_name, f"{site}.webDir", "must name the plugin's UI folder (a relative path)"
        )
    web_path = PurePosixPath(web_dir_value)
    if (web_path.is_absolute() or "\\" in web_dir_value or "\x00" in web_dir_value
            or ".." in web_path.parts):
        raise PluginDeviceUiError(
            plugin_name, f"{site}.webDir",
            f"{web_dir_value!r} must be a relative path inside the plugin package",
        )
    web_dir = os.path.realpath(os.path.join(root, *web_path.parts))
    if not web_dir.startswith(root + os.sep):
        raise PluginDeviceUiError(
            plugin_name, f"{site}.webDir", f"{web_dir_value!r} resolves outside {root}"
        )
    if not os.path.isdir(web_dir):
        raise PluginDeviceUiError(
            plugin_name, f"{site}.webDir", f"{web_dir_value!r}: no such folder in {root}"
        )
    entry = _inside_file(plugin_name, f"{site}.entry", web_dir, section.get("entry"),
                         "its entry ES module")
    if not entry.endswith((".js", ".mjs")):
        raise PluginDeviceUiError(
            plugin_name, f"{site}.entry", f"{entry!r} must be an ES module (.js or .mjs)"
        )
    icon = None
    if section.get("icon") is not None:
        icon = _inside_file(plugin_name, f"{site}.icon", web_dir, section["icon"], "an image")
    home = section.get("home", True)
    if not isinstance(home, bool):
        raise PluginDeviceUiError(plugin_name, f"{site}.home", "must be true or false")
    plugin = package_cfg.get("plugin", {})
    title = section.get("title", plugin.get("title", plugin_name))
    if not isinstance(title, str) or not title.strip():
        raise PluginDeviceUiError(plugin_name, f"{site}.title", "must be a non-empty string")
    return DeviceUi(
        plugin_name=plugin_name, site=site, title=title,
        version=str(plugin.get("version", "unknown")), web_dir=web_dir, entry=entry,
        icon=icon, home=home,
    )


def _no_cache(request: Request, content_type: bytes) -> None:
    """Headers for what must be revalidated on every load (the shell and its listings)."""
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"cache-control", b"no-cache")
    request.setHeader(b"x-content-type-options", b"nosniff")


class _ShellPage(Resource):
    """The shell's HTML page; the same bytes for ``/`` and every ``/<pluginName>/``."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        _no_cache(request, b"text/html; charset=utf-8")
        return (SHELL_DIR / "index.html").read_bytes()


class _PluginListing(Resource):
    """``/peek/plugins.json``: the site, the cache version and the enabled device plugins."""

    isLeaf = True

    def __init__(self, shell: "DeviceShell") -> None:
        super().__init__()
        self._shell = shell

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        _no_cache(request, b"application/json")
        return json.dumps(self._shell.listing(), sort_keys=True).encode()


class _ServiceWorker(Resource):
    """``/sw.js``: the cache version and pre-cache list, then the worker's fixed body."""

    isLeaf = True

    def __init__(self, shell: "DeviceShell") -> None:
        super().__init__()
        self._shell = shell

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        _no_cache(request, b"text/javascript; charset=utf-8")
        return self._shell.service_worker_script().encode()


class DeviceSiteRoot(PluginSiteRoot):
    """A mobile or desktop site: the shell at ``/``, a plugin's page at ``/<pluginName>/``."""

    def __init__(self, site_name: str) -> None:
        super().__init__(site_name)
        self.shell = DeviceShell(site_name)
        self._page = _ShellPage()
        # "/peek/": the browser bus client's modules, with the shell's files beside them.
        peek = mount_peek_static(self)
        self.shell.add_platform_dir("/peek/", str(JS_DIR))
        shell_files = StaticFolder(str(SHELL_DIR))
        shell_files.indexNames = []  # the page is served at "/" only
        peek.putChild(b"shell", shell_files)
        peek.putChild(b"plugins.json", _PluginListing(self.shell))
        self.putChild(b"sw.js", _ServiceWorker(self.shell))

    def getChildWithDefault(  # noqa: N802 - twisted API
        self, path: bytes, request: Request
    ) -> IResource:
        # Checked before the children: the plugin's own resource is a child of this root.
        if path == b"":
            return self._page
        name = path.decode("utf-8", "replace")
        # "/<pluginName>/" (or without the slash) is the shell showing that plugin's app;
        # everything below it is the plugin's own files.
        if name in self.shell.uis and request.postpath in ([], [b""]):
            return self._page
        return super().getChildWithDefault(path, request)

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        return self._page.render_GET(request)


class DeviceShell:
    """The plugin UIs of one device site, and what its listing and service worker say."""

    def __init__(self, site: str) -> None:
        self.site = site
        #: Loaded plugins with a UI on this site, in load order.
        self.uis: dict[str, DeviceUi] = {}
        #: Extra platform folders to pre-cache, by URL prefix (the bus client's modules).
        self._platform_dirs: dict[str, str] = {"/peek/shell/": str(SHELL_DIR)}

    def add_platform_dir(self, url_prefix: str, folder: str) -> None:
        """Pre-cache (and version on) every file of ``folder``, served at ``url_prefix``."""
        self._platform_dirs[url_prefix] = folder

    def add_plugin(self, ui: DeviceUi, mount: PluginMount, registrations: OwnershipScope) -> None:
        """Serve ``ui``'s folder under ``/<pluginName>/`` and list it until the plugin unloads."""
        mount.add_static_dir(ui.web_dir)
        self.uis[ui.plugin_name] = ui
        registrations.add(
            f"the {self.site} app of {ui.plugin_name}",
            lambda: self.uis.pop(ui.plugin_name, None),
        )
        logger.info("Plugin %s: %s app at %s (entry %s)", ui.plugin_name, self.site,
                    ui.base_url, ui.entry)

    def listing(self) -> dict[str, Any]:
        """The body of ``/peek/plugins.json``."""
        return {
            "site": self.site,
            "version": self.version(),
            "plugins": [ui.as_listing() for ui in self.uis.values()],
        }

    def _platform_files(self) -> Iterator[tuple[str, str]]:
        """(URL, path) of every platform file the worker pre-caches."""
        for prefix, folder in sorted(self._platform_dirs.items()):
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(_HIDDEN_PREFIXES))
                for filename in sorted(filenames):
                    # Type declarations are for the JS type check, not for browsers.
                    if filename.startswith(_HIDDEN_PREFIXES) or filename.endswith(".d.ts"):
                        continue
                    full = os.path.join(dirpath, filename)
                    rel = PurePosixPath(Path(full).relative_to(folder)).as_posix()
                    yield prefix + rel, full

    def _plugin_files(self) -> Iterator[tuple[str, str]]:
        """(URL, path) of the listed plugins' UI files, at most MAX_PRECACHE_FILES each."""
        for ui in self.uis.values():
            for count, rel in enumerate(ui.files()):
                if count == MAX_PRECACHE_FILES:
                    logger.warning("Plugin %s: more than %d UI files; the rest are cached "
                                   "when first used", ui.plugin_name, MAX_PRECACHE_FILES)
                    break
                yield ui.base_url + rel, os.path.join(ui.web_dir, *rel.split("/"))

    def version(self) -> str:
        """A hash of every pre-cached file's URL, size and modification time, and of the
        plugins' names and versions: it changes whenever the platform or a plugin does."""
        digest = hashlib.sha256(self.site.encode())
        for ui in self.uis.values():
            digest.update(f"\0{ui.plugin_name}\0{ui.version}\0{ui.entry}\0{ui.title}".encode())
        for url, path in [*self._platform_files(), *self._plugin_files()]:
            try:
                stat = os.stat(path)
            except OSError:
                continue
            digest.update(f"\0{url}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
        return digest.hexdigest()[:16]

    def precache_urls(self) -> list[str]:
        """What a fresh service worker fetches before it takes over."""
        urls = ["/", "/peek/plugins.json"]
        urls += [ui.base_url for ui in self.uis.values()]
        urls += [url for url, _ in self._platform_files()
                 if not url.endswith(("/sw-body.js", "/index.html"))]
        urls += [url for url, _ in self._plugin_files()]
        return urls

    def service_worker_script(self) -> str:
        """``/sw.js``: constants, then the fixed body in ``shell/sw-body.js``."""
        head = (
            "// Generated per request by peek_platform.web.device_shell; the body is fixed.\n"
            f"const PEEK_SITE = {json.dumps(self.site)};\n"
            f"const PEEK_VERSION = {json.dumps(self.version())};\n"
            f"const PEEK_PRECACHE = {json.dumps(self.precache_urls())};\n"
        )
        return head + (SHELL_DIR / "sw-body.js").read_text(encoding="utf-8")


def mount_device_uis(
    record: PluginRecord, roots: dict[str, DeviceSiteRoot]
) -> None:
    """Validate the plugin's ``mobile`` and ``desktop`` sections and serve them.

    The client service runs this before each plugin's entry hook is built; what it mounts is
    recorded in the plugin's registration log, so unloading the plugin removes it. Both
    sections are validated before anything is mounted.
    """
    assert record.root_dir is not None
    uis = [parse_device_ui(record.name, record.root_dir, record.package_cfg, site)
           for site in DEVICE_SITES]
    for site, ui in zip(DEVICE_SITES, uis, strict=True):
        if ui is not None:
            root = roots[site]
            root.shell.add_plugin(ui, root.mount_for(record.name, record.registrations),
                                  record.registrations)
