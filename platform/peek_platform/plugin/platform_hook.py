"""The parts of the per-plugin platform hook that every service shares."""

import socket
from pathlib import Path
from typing import Optional

from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost
from peek_plugin_base.PeekPlatformCommonHookABC import PeekPlatformCommonHookABC
from peek_plugin_base.PeekPlatformFileStorageHookABC import PeekPlatformFileStorageHookABC
from peek_plugin_base.PeekPlatformServerInfoHookABC import PeekPlatformServerInfoHookABC
from peek_plugin_base.registrations import RegistrationLog


class PlatformHookBase(PeekPlatformCommonHookABC, PeekPlatformFileStorageHookABC):
    """Other plugins' APIs, the service id and the plugin's file storage folder."""

    def __init__(
        self,
        host: PluginHost,
        plugin_name: str,
        registrations: RegistrationLog,
        config: ServiceConfig,
    ) -> None:
        self._host = host
        self._plugin_name = plugin_name
        self._registrations = registrations
        self._config = config

    def getOtherPluginApi(self, pluginName: str) -> Optional[object]:  # noqa: N802, N803
        return self._host.published_api(pluginName)

    @property
    def serviceId(self) -> str:  # noqa: N802
        return f"{self._config.service}|{socket.gethostname()}"

    @property
    def fileStorageDirectory(self) -> Path:  # noqa: N802
        path = self._config.home / "plugin-data" / self._plugin_name
        path.mkdir(parents=True, exist_ok=True)
        return path


class ServerInfoHookMixin(PeekPlatformServerInfoHookABC):
    """The server's address, from ``peekServer.host`` and ``peekServer.httpPort``."""

    _config: ServiceConfig

    @property
    def peekServerHost(self) -> str:  # noqa: N802
        return str(self._config["peekServer.host"])

    @property
    def peekServerHttpPort(self) -> int:  # noqa: N802
        return int(self._config["peekServer.httpPort"])
