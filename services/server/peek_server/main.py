"""``run_peek_server``: builds the server's service tree and runs it."""

import sys
from typing import Optional

from peek_platform.admin.command import set_admin_password
from peek_platform.admin.pages import AdminPages
from peek_platform.admin.plugin_upload import install_upload
from peek_platform.admin.service import build_admin
from peek_platform.admin_state.registry import StateRegistry
from peek_platform.admin_state.reporter import StateReporter
from peek_platform.celery_glue.caller_service import TaskCallerService
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_platform.plugin.discovery import runs_on
from peek_platform.plugin.host import PluginHost, PluginRecord
from peek_platform.service.builder import SiteSpec, build_service_tree
from peek_platform.service.runner import run_service
from peek_platform.service.tree import PeekServiceTree, declare_requires
from peek_platform.storage.action_outcomes import ActionOutcomeService
from peek_platform.storage.service import StorageService
from peek_platform.vortex.wiring import VORTEX_PATH, attach_bus, server_hub_service
from peek_platform.web.control_routes import add_control_routes
from peek_platform.web.endpoints import EndpointHub
from peek_platform.web.peek_static import mount_peek_static
from peek_platform.web.plugin_site import PluginSiteRoot
from peek_plugin_base import PeekVortexUtil
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_server.platform_hook import ServerPlatformHook
from peek_vortex import OwnershipScope


def build(config: ServiceConfig) -> PeekServiceTree:
    """Storage, the action outcome record, the bus hubs, the admin login, the task caller,
    then plugins, then the admin and platform sites.

    Shutdown runs backwards: close the ports, stop and unload the plugins, stop queuing
    tasks, close the bus, finish writing action outcomes, dispose the database engines.
    """
    admin_plugins = PluginSiteRoot("admin")
    platform_root = PluginSiteRoot("platform")
    storage = StorageService(config)
    action_outcomes = ActionOutcomeService(
        config, lambda: storage.platform_db, storage.run_in_thread
    )
    tasks = TaskCallerService(CelerySettings.from_config(config))
    vortex = server_hub_service(config)
    # The admin site: a login gate over everything plugins mount, and the admin bus.
    admin_root, admin_hub, admin_auth, attach_admin = build_admin(config, storage, admin_plugins)
    # Admin connections are kept inside the server, like devices on a client; their frames
    # reach the router only while their session lives.
    bridge = attach_bus(config, PeekVortexUtil.peekServerName, [vortex], device_hubs=[admin_hub])
    attach_admin(admin_hub.server.handler)
    platform_root.putChild(VORTEX_PATH, vortex.server.resource())
    endpoints = EndpointHub(config, {"platform": platform_root, "admin": admin_root})
    # The browser bus client, for admin pages (their bus websocket is the admin site's).
    mount_peek_static(admin_root)
    # The admin pages, and the pages plugins contribute (their "admin" section).
    admin_pages = AdminPages(admin_root, admin_plugins)
    # Every service's live state for the admin site; the server reports to itself.
    reporter = StateReporter(config, None, bridge.connections_named)
    registry = StateRegistry(reporter, None, config["admin.logTailLines"])

    def make_hook(host: PluginHost, name: str, log: OwnershipScope) -> ServerPlatformHook:
        return ServerPlatformHook(
            host, name, log, config, {"Admin": admin_plugins, "Server": platform_root},
            storage=storage, endpoints=endpoints,
        )

    async def before_load(record: PluginRecord) -> None:
        await storage.before_load(record)
        admin_pages.add_plugin(record)

    # What each needs running first (the tree orders them; shutdown runs it backwards).
    # Action outcomes are recorded durably from the first action over the bus to the last.
    declare_requires(vortex, "action-outcomes")
    # Admin pages talk to the services over the server's bus.
    declare_requires(admin_hub, "action-outcomes", "vortex")
    # The admin accounts need the platform schema; sessions end before the admin bus closes.
    declare_requires(admin_auth, "storage", "vortex-admin")
    # Reports arrive over the bus; admin pages watch them over the admin bus.
    declare_requires(registry, "vortex", "vortex-admin")
    # The server reports to its own registry.
    declare_requires(reporter, "admin-state-registry")
    tree = build_service_tree(
        config,
        PluginServerEntryHookABC,
        make_hook,
        [
            SiteSpec("admin-site", admin_root, "httpServer.admin.sitePort",
                     "httpServer.admin.bindAddress"),
            SiteSpec("platform-site", platform_root, "httpServer.platform.sitePort",
                     "httpServer.platform.bindAddress"),
        ],
        # A plugin that only asks for "storage" still runs here: the server owns storage.
        accepted_service_names=runs_on("server"),
        # The plugins require all of these: the platform schema is migrated before any
        # plugin loads (each storage plugin's schema just before that plugin is built, and
        # engines are disposed after they stop); plugins may queue worker tasks from
        # start() until their stop() has finished.
        before_plugins=[storage, action_outcomes, vortex, admin_hub, admin_auth, registry,
                        reporter, tasks],
        before_load=before_load,
    )
    reporter.host = registry.host = tree.host
    # Seed 004's control routes: /plugins, /reload/<plugin>, /reload/all (control keys only).
    add_control_routes(endpoints, "platform", tree.host, config)
    # Plugin upload: mounted on the admin gate; its installer stops first (waits for pip).
    install_upload(admin_root, config, tree.host, lambda s: s.setServiceParent(tree))
    return tree


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point of ``run_peek_server``."""
    sys.exit(run_service("server", build, argv, one_shot=set_admin_password))
