"""``run_peek_agent``: builds the agent service's tree and runs it."""

import sys
from typing import Optional

from peek_agent.platform_hook import AgentPlatformHook
from peek_platform.admin_state.reporter import StateReporter
from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost
from peek_platform.service.builder import build_service_tree
from peek_platform.service.runner import run_service
from peek_platform.service.tree import PeekServiceTree, declare_requires
from peek_platform.vortex.wiring import attach_bus, upstream_service
from peek_plugin_base import PeekVortexUtil
from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_vortex import OwnershipScope


def build(config: ServiceConfig) -> PeekServiceTree:
    """The agent connects to the server's bus, then hosts plugins; it serves no HTTP site."""

    def make_hook(host: PluginHost, name: str, log: OwnershipScope) -> AgentPlatformHook:
        return AgentPlatformHook(host, name, log, config)

    upstream = upstream_service(config, PeekVortexUtil.peekAgentName)
    bridge = attach_bus(config, PeekVortexUtil.peekAgentName, [upstream])
    # Reports this agent's state and log tail to the server; applies its control commands.
    reporter = StateReporter(config, None, bridge.connections_named)

    # The reporter reports over the server connection.
    declare_requires(reporter, "vortex")
    tree = build_service_tree(
        config, PluginAgentEntryHookABC, make_hook, [],
        before_plugins=[upstream, reporter],
    )
    reporter.host = tree.host
    return tree


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point of ``run_peek_agent``."""
    sys.exit(run_service("agent", build, argv))
