"""Fixture plugins of the platform-events process tests (seed 003 style, through our adapters).

- ``fx_ev_async`` (server, client, agent, worker): a background plugin. ``start`` creates an
  asyncio task that fetches the URL in ``target_url`` (its file storage folder) with an
  aiohttp ClientSession every 0.2 s and logs ``fx async fetched: <body>``; routes
  ``/probe`` (the last body fetched, JSON), ``/boom`` (raises with a secret in the message)
  and ``/echo`` (POST: the JSON body back). ``close`` cancels the task, closes the session
  and logs ``fx async closed: cancelled=<bool>``.
- ``fx_ev_slow`` (server): an event plugin for ``monitoring_event`` whose handler never
  finishes; its queue holds 5 events.
- ``fx_ev_fail`` (server): an event plugin for ``monitoring_event`` whose handler raises
  ``RuntimeError("fx boom secret-in-handler")`` on every batch.
- ``fx_ev_watch`` (server): subscribes through ``platform.subscribeToEvents`` to
  ``plugin_state`` and ``connection`` and appends each event as JSON to ``events.jsonl``.
"""

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Optional

from aiohttp import ClientSession

from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.base_plugins import (
    BaseBackgroundHandler,
    BaseBackgroundPlugin,
    BaseEventPlugin,
    PluginRequest,
    entryHookFor,
    pluginHTTPResponse,
)
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.events import CONNECTION_EVENT, MONITORING_EVENT, PLUGIN_STATE_EVENT
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC

logger = logging.getLogger(__name__)


class ProbeHandler(BaseBackgroundHandler):
    """GET: what the background task fetched last."""

    async def get(self, request: PluginRequest) -> Any:
        plugin = self.plugin
        assert isinstance(plugin, AsyncBackgroundPlugin)
        await asyncio.sleep(0)  # an asyncio await inside a route handler
        return self.response(body={"fetched": plugin.fetched, "count": plugin.count})


def boom(request: PluginRequest) -> Any:
    raise RuntimeError("fx route failed: secret-in-route /etc/shadow")


async def echo(request: PluginRequest) -> Any:
    return pluginHTTPResponse(statusCode=201, body={"got": request.json()})


class AsyncBackgroundPlugin(BaseBackgroundPlugin):
    """Fetches a URL with aiohttp from an asyncio task started in start()."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.task: Optional[asyncio.Task[None]] = None
        self.session: Optional[ClientSession] = None
        self.fetched: Optional[str] = None
        self.count = 0

    async def initialize(self) -> None:
        platform = self.app.platform
        if hasattr(platform, "addServerResource") or hasattr(platform, "addMobileResource"):
            self.addRoute("/probe", ProbeHandler)
            self.addRoute("/boom", boom)
            self.addRoute("/echo", echo, methods={"post"})
        self.session = ClientSession()

    async def start(self) -> None:
        target = Path(self.app.platform.fileStorageDirectory) / "target_url"
        self.task = asyncio.create_task(self.fetch_loop(target.read_text().strip()))

    async def fetch_loop(self, url: str) -> None:
        assert self.session is not None
        while True:
            async with self.session.get(url) as resp:
                body = await resp.text()
            if body != self.fetched:
                self.app.logger.info("fx async fetched: %s", body)
            self.fetched = body
            self.count += 1
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        cancelled = False
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                cancelled = True
        if self.session is not None:
            await self.session.close()
        self.app.logger.info("fx async closed: cancelled=%s", cancelled)


class SlowEventPlugin(BaseEventPlugin):
    """Never finishes a batch: its queue fills and overflows."""

    eventName = MONITORING_EVENT
    maxQueue = 5

    async def handleEvent(self, events: list[Any], logger: logging.Logger) -> None:
        logger.info("fx slow got %d event(s); never returning", len(events))
        await asyncio.Event().wait()


class FailingEventPlugin(BaseEventPlugin):
    """Raises on every batch."""

    eventName = MONITORING_EVENT

    async def handleEvent(self, events: list[Any], logger: logging.Logger) -> None:
        raise RuntimeError("fx boom secret-in-handler")


class WatchServerHook(PluginServerEntryHookABC):
    """Records plugin state and connection events through the platform hook directly."""

    def load(self) -> None:
        self._path = self.platform.fileStorageDirectory / "events.jsonl"
        self._undo: list[Any] = []

    async def start(self) -> None:
        for name in (PLUGIN_STATE_EVENT, CONNECTION_EVENT):
            self._undo.append(self.platform.subscribeToEvents(name, self._record))

    async def _record(self, events: list[Any]) -> None:
        with self._path.open("a", encoding="utf-8") as f:
            for event in events:
                f.write(json.dumps(event.toJsonDict()) + "\n")

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()

    def unload(self) -> None:
        pass


HOOK_ABCS = {"server": PluginServerEntryHookABC, "client": PluginClientEntryHookABC,
             "agent": PluginAgentEntryHookABC, "worker": PluginWorkerEntryHookABC}


def async_hook(service: str) -> type:
    return entryHookFor(AsyncBackgroundPlugin, HOOK_ABCS[service])
