"""The admin site's pages: dashboard, plugins, settings, logs, plugin data and the admin
pages plugins contribute.

Each page is the shared layout around one web component (an ES module in ``web/``, served
at ``/admin-ui/``) that talks to the server over the admin bus (``/vortexws``, name
``peek-admin``) with the browser bus client; see ``docs/admin-guide.md``.

URL map (all behind the session gate of :mod:`peek_platform.admin.site`):

=====================  ==============================================================
path                   what
=====================  ==============================================================
``/``                  dashboard: every service, live
``/plugins``           plugins per service, enable / disable / reload
``/settings``          plugin settings (edited) and each service's masked config
``/logs``              each service's log tail, live, by level and plugin
``/data``              the tuple-loader pages server plugins declare
``/plugin-pages``      the admin pages plugins contribute (``?plugin=<name>``)
``/plugin-pages.json`` the enabled server plugins that contribute one
=====================  ==============================================================

A plugin contributes an admin page with an ``admin`` section in ``plugin_package.json`` in
the shape of its device UI sections (``webDir``, ``entry``, ``icon``, ``title``; checked by
:func:`peek_platform.web.device_shell.parse_device_ui`), next to the section's
``settings`` and ``tupleLoaders`` (see :mod:`peek_platform.admin_state.registry`).
"""

import html
import json
from dataclasses import dataclass

from twisted.web.resource import Resource
from twisted.web.server import Request

from peek_platform.admin.sessions import Session
from peek_platform.admin.site import NAV, AdminSiteRoot, layout
from peek_platform.plugin.host import PluginRecord
from peek_platform.web.device_shell import DeviceShell, parse_device_ui
from peek_platform.web.plugin_site import PluginSiteRoot

#: Keys of the ``admin`` section that belong to the platform state (settings, loaders),
#: not to the contributed page.
STATE_KEYS = frozenset({"settings", "tupleLoaders"})


@dataclass(frozen=True)
class Page:
    """One admin page: its path, nav title, web component and module."""

    path: str
    title: str
    element: str
    module: str


PAGES = (
    Page("/", "Dashboard", "peek-admin-dashboard", "dashboard.js"),
    Page("/plugins", "Plugins", "peek-admin-plugins", "plugins.js"),
    Page("/settings", "Settings", "peek-admin-settings", "settings.js"),
    Page("/logs", "Logs", "peek-admin-logs", "logs.js"),
    Page("/data", "Plugin data", "peek-admin-data", "data.js"),
    Page("/plugin-pages", "Plugin pages", "peek-admin-plugin-pages", "plugin-pages.js"),
)


class AdminPage(Resource):
    """One page: the layout, a live bus badge and the page's web component."""

    isLeaf = True

    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        session: Session = request.peek_admin_session  # type: ignore[attr-defined]
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        title = html.escape(self.page.title)
        return layout(self.page.title, f"""<h1>{title}
<small class="bus">bus: <span id="bus-state" data-state="connecting">connecting</span></small></h1>
<{self.page.element}></{self.page.element}>
<script type="module" src="/admin-ui/{self.page.module}"></script>""", session)


class _Listing(Resource):
    """``/plugin-pages.json``: the contributed admin pages of the running server plugins."""

    isLeaf = True

    def __init__(self, shell: DeviceShell) -> None:
        super().__init__()
        self._shell = shell

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        request.setHeader(b"content-type", b"application/json")
        listing = self._shell.listing()
        return json.dumps({"plugins": listing["plugins"]}, sort_keys=True).encode()


class AdminPages:
    """The pages on an admin site root, and the plugin-contributed pages it lists."""

    def __init__(self, root: AdminSiteRoot, plugins_root: PluginSiteRoot) -> None:
        self._plugins_root = plugins_root
        #: The device shell's bookkeeping, reused: one "site" named admin.
        self.shell = DeviceShell("admin")
        for page in PAGES:
            resource = AdminPage(page)
            if page.path == "/":
                root.landing = resource
            else:
                root.putChild(page.path[1:].encode(), resource)
            if (page.path, page.title) not in NAV:
                NAV.append((page.path, page.title))
        root.putChild(b"plugin-pages.json", _Listing(self.shell))

    def add_plugin(self, record: PluginRecord) -> None:
        """Serve the plugin's admin page (if its ``admin`` section declares one) under
        ``/<pluginName>/`` until it unloads; a wrong declaration fails the plugin with a
        :class:`~peek_platform.errors.PluginDeviceUiError` naming the key."""
        assert record.root_dir is not None
        section = record.package_cfg.get("admin")
        if not isinstance(section, dict):
            # Nothing to serve; the state registry reports a malformed section.
            return
        page_cfg = {**record.package_cfg,
                    "admin": {k: v for k, v in section.items() if k not in STATE_KEYS}}
        ui = parse_device_ui(record.name, record.root_dir, page_cfg, "admin")
        if ui is not None:
            mount = self._plugins_root.mount_for(record.name, record.registrations)
            self.shell.add_plugin(ui, mount, record.registrations)
