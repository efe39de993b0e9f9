"""Writes every monitoring point of its service to a JSON lines file or an HTTP sink.

Settings come from the plugin's parameters (when the platform offers them), else from
``settings.json`` in the plugin's file storage folder
(``<service home>/plugin-data/peek_plugin_monitoring/``), else the defaults:

- ``sink``: ``"file"`` (default) or ``"http"``;
- ``file``: the JSON lines file name inside that folder (default ``points.jsonl``); a
  name only, never a path elsewhere;
- ``url``: the HTTP sink (``http://`` or ``https://``); each batch is POSTed as
  ``{"points": [...]}`` with an aiohttp ClientSession, as seed 003's example does;
- ``series``: the series to keep (default: all).

It uses asyncio (``asyncio.gather``, ``asyncio.to_thread``, aiohttp), so its
``plugin_package.json`` declares ``"asyncio": true``: with ``twisted.reactor`` at ``auto``
the services running it use the asyncio reactor.
"""

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Optional

from aiohttp import ClientSession, ClientTimeout

from peek_plugin_base.base_plugins import BaseEventPlugin, PluginApp
from peek_plugin_base.events import MONITORING_EVENT, MonitoringPoint
from peek_plugin_base.private_files import ensure_private_file

SETTINGS_FILE = "settings.json"
DEFAULT_POINTS_FILE = "points.jsonl"


class MonitoringSettingsError(ValueError):
    """settings.json or the parameters name a sink that cannot be used."""


def read_settings(storage: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The effective settings (see the module docstring); raises MonitoringSettingsError."""
    settings: dict[str, Any] = {}
    path = storage / SETTINGS_FILE
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise MonitoringSettingsError(f"{path}: not readable JSON: {e}") from None
        if not isinstance(loaded, dict):
            raise MonitoringSettingsError(f"{path}: must hold a JSON object")
        settings.update(loaded)
    settings.update(parameters)
    sink = settings.setdefault("sink", "file")
    if sink not in ("file", "http"):
        raise MonitoringSettingsError(f'sink must be "file" or "http", got {sink!r}')
    name = settings.setdefault("file", DEFAULT_POINTS_FILE)
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise MonitoringSettingsError(f"file must be a plain file name, got {name!r}")
    if sink == "http":
        url = settings.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise MonitoringSettingsError(f"url must be an http(s) URL, got {url!r}")
    series = settings.get("series")
    if series is not None and not (
        isinstance(series, list) and all(isinstance(s, str) for s in series)
    ):
        raise MonitoringSettingsError(f"series must be a list of names, got {series!r}")
    return settings


class BaseRequestMonitoringPlugin(BaseEventPlugin):
    """Seed 003's base: gets monitoring points in batches, flushes each one."""

    eventName = MONITORING_EVENT

    async def flushPointToMonitoring(  # noqa: N802 - the seed's name
        self, point: MonitoringPoint, logger: logging.Logger
    ) -> None:
        """Send one point to the monitoring system."""
        raise NotImplementedError

    async def handleEvent(  # noqa: N802 - the seed's name
        self, points: list[MonitoringPoint], logger: logging.Logger
    ) -> None:
        await asyncio.gather(*(self.flushPointToMonitoring(p, logger) for p in points))


class RequestMonitoringPlugin(BaseRequestMonitoringPlugin):
    """Writes the points to a JSON lines file, or posts each batch to an HTTP sink."""

    def __init__(self, app: PluginApp) -> None:
        super().__init__(app)
        self.session: Optional[ClientSession] = None
        self.settings: dict[str, Any] = {}
        self.path: Optional[Path] = None
        self.written = 0

    async def initialize(self) -> None:
        storage = Path(self.app.platform.fileStorageDirectory)
        self.settings = read_settings(storage, self.app.parameters)
        if self.settings["sink"] == "http":
            self.session = ClientSession(timeout=ClientTimeout(total=10))
            self.app.logger.info("Monitoring points go to %s", self.settings["url"])
        else:
            self.path = storage / self.settings["file"]
            self.app.logger.info("Monitoring points go to %s", self.path)

    async def close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()

    def _wanted(self, point: MonitoringPoint) -> bool:
        series = self.settings.get("series")
        return series is None or point.series in series

    async def handleEvent(  # noqa: N802 - the seed's name
        self, points: list[MonitoringPoint], logger: logging.Logger
    ) -> None:
        # One write or one POST per batch: cheaper than the seed's request per point.
        rows = [p.toJsonDict() for p in points if self._wanted(p)]
        if not rows:
            return
        if self.session is not None:
            async with self.session.post(self.settings["url"], json={"points": rows}) as resp:
                if resp.status >= 300:
                    raise RuntimeError(
                        f"monitoring sink {self.settings['url']} answered {resp.status}")
        else:
            assert self.path is not None
            await asyncio.to_thread(self._append, rows)
        self.written += len(rows)

    async def flushPointToMonitoring(  # noqa: N802 - the seed's name
        self, point: MonitoringPoint, logger: logging.Logger
    ) -> None:
        await self.handleEvent([point], logger)

    def _append(self, rows: list[dict[str, Any]]) -> None:
        assert self.path is not None
        ensure_private_file(self.path)  # request paths and timings are data: 0600
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
