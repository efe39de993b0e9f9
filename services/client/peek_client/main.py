"""``run_peek_client``: builds the client service's tree and runs it."""

import sys
from typing import Optional

from peek_client.platform_hook import ClientPlatformHook
from peek_platform.admin_state.reporter import StateReporter
from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost, PluginRecord
from peek_platform.service.builder import SiteSpec, build_service_tree
from peek_platform.service.runner import run_service
from peek_platform.service.tree import PeekServiceTree, declare_requires
from peek_platform.vortex.wiring import (
    VORTEX_PATH,
    attach_bus,
    device_hub_service,
    upstream_service,
)
from peek_platform.web.device_shell import DeviceSiteRoot, mount_device_uis
from peek_platform.web.endpoints import EndpointHub
from peek_plugin_base import PeekVortexUtil
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_vortex import OwnershipScope


def build(config: ServiceConfig) -> PeekServiceTree:
    """Bus (upstream, devices), then plugins, then the mobile and desktop sites."""
    # Each site serves the device app shell and the UIs plugins declare for it.
    mobile_root = DeviceSiteRoot("mobile")
    desktop_root = DeviceSiteRoot("desktop")
    devices = device_hub_service(config)
    upstream = upstream_service(config, PeekVortexUtil.peekClientName)
    # Devices reach only this process; plugins expose what they may send upstream.
    bridge = attach_bus(config, PeekVortexUtil.peekClientName, [upstream],
                        device_hubs=[devices])
    # Reports this client's state, devices and log tail; applies its control commands.
    reporter = StateReporter(config, None, bridge.connections_named)
    mobile_root.putChild(VORTEX_PATH, devices.server.resource())
    desktop_root.putChild(VORTEX_PATH, devices.server.resource())
    endpoints = EndpointHub(config, {"mobile": mobile_root, "desktop": desktop_root})

    def make_hook(host: PluginHost, name: str, log: OwnershipScope) -> ClientPlatformHook:
        return ClientPlatformHook(
            host, name, log, config, {"Mobile": mobile_root, "Desktop": desktop_root},
            endpoints=endpoints,
        )

    async def before_load(record: PluginRecord) -> None:
        mount_device_uis(record, {"mobile": mobile_root, "desktop": desktop_root})

    # Devices' messages go upstream, so their hub opens after the server connection and
    # closes before it; the reporter reports both to the server.
    declare_requires(devices, "vortex")
    declare_requires(reporter, "vortex", "vortex-devices")
    tree = build_service_tree(
        config,
        PluginClientEntryHookABC,
        make_hook,
        [
            SiteSpec("mobile-site", mobile_root, "httpServer.mobile.sitePort",
                     "httpServer.mobile.bindAddress"),
            SiteSpec("desktop-site", desktop_root, "httpServer.desktop.sitePort",
                     "httpServer.desktop.bindAddress"),
        ],
        before_plugins=[upstream, devices, reporter],
        before_load=before_load,
    )
    reporter.host = tree.host
    return tree


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point of ``run_peek_client``."""
    sys.exit(run_service("client", build, argv))
