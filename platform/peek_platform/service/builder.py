"""Assembles a service's tree: the plugin host, then the sites that expose the plugins."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from twisted.application.service import IService
from twisted.web.resource import Resource

from peek_platform.config import ServiceConfig
from peek_platform.plugin.discovery import runs_on
from peek_platform.plugin.host import PluginHost, PluginRecord, ServicePluginSpec
from peek_platform.service.tree import (
    ListeningSite,
    PeekServiceTree,
    PluginHostService,
    declare_requires,
)
from peek_platform.tls import CERT_KEY, KEY_KEY, server_tls_options
from peek_platform.web.guard import ConnectionGate
from peek_vortex import OwnershipScope


@dataclass(frozen=True)
class SiteSpec:
    """An HTTP site of the service and the config keys of its port and bind address."""

    name: str
    root: Resource
    port_key: str
    bind_key: str

    @property
    def plain_port_key(self) -> str:
        """The key of the plain-http port served beside the TLS one (``...plainPort``)."""
        return self.port_key.rsplit(".", 1)[0] + ".plainPort"


def build_service_tree(
    config: ServiceConfig,
    entry_hook_abc: type,
    make_platform_hook: Callable[[PluginHost, str, OwnershipScope], object],
    sites: list[SiteSpec],
    accepted_service_names: frozenset[str] = frozenset(),
    before_plugins: Sequence[IService] = (),
    before_load: Callable[[PluginRecord], Awaitable[None]] | None = None,
) -> PeekServiceTree:
    """A tree that starts ``before_plugins`` (storage, the bus), then the plugins, then opens
    the sites; shutdown runs the same order backwards.

    Each of ``before_plugins`` is named and declares its ``requires`` among its siblings
    (:mod:`peek_platform.service.tree`); the tree orders them from that, so the list's order
    only breaks ties. The plugin host requires all of them; each site requires the plugin
    host. Raises ServiceTreeError when they cannot be ordered (an unknown name, a cycle).
    ``before_load`` runs for each plugin before its entry hook is built (storage migration).
    """
    from twisted.internet import reactor

    service = config.service
    spec = ServicePluginSpec(
        service=service,
        entry_hook_abc=entry_hook_abc,
        accepted_service_names=accepted_service_names or runs_on(service),
        make_platform_hook=make_platform_hook,
        before_load=before_load,
    )
    host = PluginHost(spec, clock=reactor)
    # Enabling/disabling a plugin records it in this service's config.json.
    host.edit_enabled = config.edit_plugin_enabled
    tree = PeekServiceTree(service, host)
    for child in before_plugins:
        child.setServiceParent(tree)
    plugins = PluginHostService(host, lambda: config["plugin.enabled"])
    declare_requires(plugins, *(child.name for child in before_plugins))
    plugins.setServiceParent(tree)
    if sites:
        # One gate for all sites: the caps bound the whole process's half-open sockets.
        gate = ConnectionGate(config["httpServer.maxUnauthenticatedConnections"],
                              config["httpServer.maxUnauthenticatedPerAddress"])
        # Loaded once for all sites; the files were checked when the config was loaded.
        tls = (server_tls_options(config.home, config[CERT_KEY], config[KEY_KEY])
               if config[CERT_KEY] else None)
    for site in sites:
        # The site answers 503 for a plugin the host is reloading, and counts its requests.
        site.root.gate = host.gate
        listening = ListeningSite(
            site.name, site.root, config[site.port_key], config[site.bind_key], gate,
            config["httpServer.headerTimeoutSeconds"], tls=tls,
            plain_port=config[site.plain_port_key],
            max_body_bytes=config["httpServer.maxRequestBodyBytes"],
        )
        # A port opens once the plugins behind it run, and closes before they stop.
        declare_requires(listening, plugins.name)
        listening.setServiceParent(tree)
    tree.resolve_order()
    return tree
