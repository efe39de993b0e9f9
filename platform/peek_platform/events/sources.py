"""Where the platform's events come from: plugin states, connections, HTTP requests, RPCs.

:func:`install_event_sources` is called once per service process (after config.json is
read); it sizes the dispatcher's queues from config and connects the plugin host's state
changes and the RPC handlers' answers to it. The HTTP sites and the bus bridge call
:func:`emit_http_request` and :func:`emit_connection` directly. Building an event is
skipped when nobody subscribes to its name, so the cost without event plugins is one
dictionary lookup.
"""

import logging
import time
from typing import Any, Optional

import peek_platform.plugin.host as plugin_host
from peek_platform.config import ServiceConfig
from peek_platform.events.dispatcher import default_dispatcher
from peek_plugin_base.events import (
    CONNECTION_EVENT,
    MONITORING_EVENT,
    PLUGIN_STATE_EVENT,
    MonitoringPoint,
    PlatformEvent,
)
from peek_vortex.routing import PayloadRouter, default_router

logger = logging.getLogger(__name__)

#: Longest request path kept in a point's tags.
MAX_PATH_CHARS = 256

#: The service name tagged on every point ("server", "client", ...).
_service = {"name": "unknown"}


def install_event_sources(config: ServiceConfig, router: Optional[PayloadRouter] = None) -> None:
    """Size the dispatcher from config and connect the plugin-state source and the RPC
    source (the calls ``router``, default the process's, answers)."""
    _service["name"] = config.service
    default_dispatcher().configure(config["events.maxBatch"],
                                   config["events.maxQueuePerSubscriber"])
    plugin_host.state_listener = _plugin_state_changed
    (router or default_router()).rpc_observer = _rpc_answered


def _plugin_state_changed(record: Any) -> None:
    dispatcher = default_dispatcher()
    if not dispatcher.has_subscribers(PLUGIN_STATE_EVENT):
        return
    dispatcher.emit(PLUGIN_STATE_EVENT, PlatformEvent(PLUGIN_STATE_EVENT, {
        "service": _service["name"],
        "plugin": record.name,
        "state": str(record.state),
        "reason": record.reason,
    }))


def _rpc_answered(rpc_name: str, caller: str, status: str, seconds: float) -> None:
    dispatcher = default_dispatcher()
    if not dispatcher.has_subscribers(MONITORING_EVENT):
        return
    dispatcher.emit(MONITORING_EVENT, MonitoringPoint(
        "rpc",
        {"service": _service["name"], "rpc": rpc_name, "caller": caller, "status": status},
        {"durationMs": round(seconds * 1000.0, 3), "ok": status == "ok"},
    ))


def emit_connection(state: str, kind: str, vortex_name: str, vortex_uuid: str) -> None:
    """A bus connection opened (``connected``) or closed (``disconnected``)."""
    dispatcher = default_dispatcher()
    if not dispatcher.has_subscribers(CONNECTION_EVENT):
        return
    dispatcher.emit(CONNECTION_EVENT, PlatformEvent(CONNECTION_EVENT, {
        "service": _service["name"],
        "state": state,
        "kind": kind,
        "vortexName": vortex_name,
        "vortexUuid": vortex_uuid,
    }))


def emit_http_request(
    site: str, method: str, path: str, status: int, started: float, finished: bool
) -> None:
    """An HTTP request ended (answered, or the client went away first: ``finished``
    False). ``path`` excludes the query string, which may hold secrets."""
    dispatcher = default_dispatcher()
    if not dispatcher.has_subscribers(MONITORING_EVENT):
        return
    dispatcher.emit(MONITORING_EVENT, MonitoringPoint(
        "http_request",
        {"service": _service["name"], "site": site, "method": method[:16],
         # A client chooses the path: bounded, so a sink cannot be flooded by one request.
         "path": path[:MAX_PATH_CHARS], "status": status},
        {"durationMs": round((time.monotonic() - started) * 1000.0, 3),
         "completed": finished},
    ))
