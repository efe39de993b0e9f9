"""The noop plugin's entry hooks: every lifecycle call is logged with the service name."""

import logging
from typing import Optional

from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC
from peek_plugin_noop.server.NoopApiABC import NoopApiABC

logger = logging.getLogger(__name__)


class _LoggingLifecycle:
    """Logs ``peek_plugin_noop <service>: <step>`` for each lifecycle step."""

    service = ""

    def _log(self, step: str) -> None:
        logger.info("peek_plugin_noop %s: %s", self.service, step)

    def load(self) -> None:
        self._log("load")

    def start(self) -> None:
        self._log("start")

    def stop(self) -> None:
        self._log("stop")

    def unload(self) -> None:
        self._log("unload")


class NoopApi(NoopApiABC):
    """The noop plugin's server API."""

    def ping(self, text: str) -> str:
        return f"pong: {text}"


class ServerEntryHook(_LoggingLifecycle, PluginServerEntryHookABC):
    service = "server"

    def load(self) -> None:
        self._api: Optional[NoopApi] = NoopApi()
        super().load()

    def unload(self) -> None:
        self._api = None
        super().unload()

    @property
    def publishedServerApi(self) -> Optional[NoopApiABC]:
        return self._api


class ClientEntryHook(_LoggingLifecycle, PluginClientEntryHookABC):
    service = "client"


class AgentEntryHook(_LoggingLifecycle, PluginAgentEntryHookABC):
    service = "agent"


class WorkerEntryHook(_LoggingLifecycle, PluginWorkerEntryHookABC):
    service = "worker"
