"""``run_peek_worker``: builds the worker service's tree and runs it."""

import sys
from typing import Optional

from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost
from peek_platform.service.builder import build_service_tree
from peek_platform.service.runner import run_service
from peek_platform.service.tree import PeekServiceTree
from peek_platform.vortex.bridge import attach_bus
from peek_platform.vortex.transport.wiring import upstream_service
from peek_plugin_base import PeekVortexUtil
from peek_plugin_base.registrations import RegistrationLog
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC
from peek_worker.platform_hook import WorkerPlatformHook


def build(config: ServiceConfig) -> PeekServiceTree:
    """The worker connects to the server's bus, then hosts plugins; it serves no HTTP site."""

    def make_hook(host: PluginHost, name: str, log: RegistrationLog) -> WorkerPlatformHook:
        return WorkerPlatformHook(host, name, log, config)

    upstream = upstream_service(config, PeekVortexUtil.peekWorkerName)
    attach_bus(config, PeekVortexUtil.peekWorkerName, [upstream])

    return build_service_tree(
        config, PluginWorkerEntryHookABC, make_hook, [],
        before_plugins=[upstream],
    )


def main(argv: Optional[list[str]] = None) -> None:
    """Console entry point of ``run_peek_worker``."""
    sys.exit(run_service("worker", build, argv))
