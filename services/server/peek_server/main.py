"""``run_peek_server``: builds the server's service tree and runs it."""

import sys
from typing import Optional

from twisted.application.service import IService

from peek_platform.celery_glue.caller_service import TaskCallerService
from peek_platform.celery_glue.settings import CelerySettings
from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost
from peek_platform.service.builder import SiteSpec, build_service_tree
from peek_platform.service.runner import run_service
from peek_platform.service.tree import PeekServiceTree
from peek_platform.web.plugin_site import PluginSiteRoot
from peek_plugin_base.registrations import RegistrationLog
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_server.platform_hook import ServerPlatformHook


def _add_before_plugins(tree: PeekServiceTree, service: IService) -> None:
    """Start ``service`` before the plugin host (and so stop it after the plugins)."""
    service.setServiceParent(tree)
    tree.services.remove(service)
    tree.services.insert(tree.services.index(tree.getServiceNamed("plugins")), service)


def build(config: ServiceConfig) -> PeekServiceTree:
    """Task caller, plugins, then the admin and platform sites (stopped in reverse)."""
    admin_root = PluginSiteRoot("admin")
    platform_root = PluginSiteRoot("platform")

    def make_hook(host: PluginHost, name: str, log: RegistrationLog) -> ServerPlatformHook:
        return ServerPlatformHook(host, name, log, config, admin_root, platform_root)

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
        accepted_service_names=frozenset({"server", "storage"}),
    )
    # Plugins may queue worker tasks from start() until their stop() has finished.
    _add_before_plugins(tree, TaskCallerService(CelerySettings.from_config(config)))
    return tree


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point of ``run_peek_server``."""
    sys.exit(run_service("server", build, argv))
