"""Runs in every service: reports its state and log tail to the server, applies control.

The report (one :class:`ServiceStateTuple`) is built every ``admin.stateCheckSeconds`` and
sent when anything in it changed, and at least every ``admin.stateReportSeconds`` (so the
server sees uptime and memory move), and at once whenever a plugin control command
changes a plugin. New log lines are sent in batches on the same tick.

Control commands (:class:`PluginControlTuple`) are accepted only from ``peek-server``:
the bus stamps the originator from the authenticated connection, so no client, agent,
worker or device can send one. The service applies the command itself through its plugin
host (``enable_plugin`` / ``disable_plugin`` / ``reload_plugin``, which write config.json
atomically).
"""

import collections
import datetime
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet.task import LoopingCall

from peek_platform.admin_state.tuples import (
    ADMIN_FILT,
    CONTROL_KEY,
    LOG_KEY,
    OPERATIONS,
    REPORT_KEY,
    DeviceTuple,
    LogLineTuple,
    PluginControlResultTuple,
    PluginControlTuple,
    PluginStateTuple,
    ServiceStateTuple,
)
from peek_platform.config import ServiceConfig
from peek_platform.errors import PlatformStateError
from peek_platform.plugin.discovery import installed_plugins
from peek_platform.plugin.host import PluginHost
from peek_plugin_base import PeekVortexUtil
from peek_vortex.routing import PayloadEndpoint, PayloadRouter, connection_events, default_router
from peek_vortex.wire import Payload, PayloadEnvelope

logger = logging.getLogger(__name__)

#: Config keys whose (last dotted part's) name contains one of these hold secrets.
_SECRET_WORDS = ("password", "token", "secret", "key")
#: user:password@ inside a URL (database and broker URLs).
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?=@)")
MASK = "***"
#: How many plugin state transitions each plugin remembers (shown as its history).
HISTORY_LENGTH = 10
DEVICE_NAMES = (PeekVortexUtil.peekMobileName, PeekVortexUtil.peekDesktopName)


def mask_secrets(value: Any, name: str = "") -> Any:
    """A copy of a config value with every secret replaced by ``"***"``.

    A key is secret when its name contains password, token, secret or key (any case); a
    URL's password is masked wherever it appears.
    """
    if isinstance(value, dict):
        return {k: mask_secrets(v, k) for k, v in value.items()}
    lowered = name.lower()
    if any(word in lowered for word in _SECRET_WORDS) and value not in ("", None, [], {}):
        return MASK
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
    return value


def service_id(config: ServiceConfig) -> str:
    """``<service>@<host>:<home>``: stable across restarts of one installation."""
    return f"{config.service}@{socket.gethostname()}:{config.home}"


def platform_version() -> str:
    """The installed platform distribution's version."""
    try:
        return version("peek-platform")
    except PackageNotFoundError:
        return "unknown"


def rss_bytes() -> Optional[int]:
    """This process's resident memory, from /proc (Linux), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        try:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        except (ImportError, OSError):
            return None


class LogTail(logging.Handler):
    """Keeps the service's recent log lines (any thread may log) for the admin pages."""

    def __init__(self, sid: str, plugin_of: Callable[[str], str], size: int) -> None:
        super().__init__(logging.DEBUG)
        self._sid = sid
        self._plugin_of = plugin_of
        self._lines: collections.deque[LogLineTuple] = collections.deque(maxlen=size)
        self._seq = 0
        # Reentrant: a signal handler that logs runs on the thread that may already be in
        # emit(); a plain Lock would then wait for itself forever.
        self._guard = threading.RLock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        with self._guard:
            self._seq += 1
            self._lines.append(LogLineTuple(
                serviceId=self._sid,
                seq=self._seq,
                time=datetime.datetime.fromtimestamp(record.created, datetime.UTC),
                level=record.levelname,
                logger=record.name,
                plugin=self._plugin_of(record.name),
                message=message,
            ))

    def since(self, seq: int) -> list[LogLineTuple]:
        """Lines newer than ``seq``, oldest first."""
        with self._guard:
            return [line for line in self._lines if line.seq > seq]


class StateReporter(Service):
    """Builds this service's report and sends it (and its log tail) to the server."""

    name = "admin-state-reporter"

    def __init__(
        self,
        config: ServiceConfig,
        host: Optional[PluginHost],
        connections_named: Optional[Callable[[str], list[Any]]] = None,
        router: Optional[PayloadRouter] = None,
        send_report: Optional[Callable[[ServiceStateTuple, list[LogLineTuple]], None]] = None,
    ) -> None:
        self.config = config
        #: Set once the service tree (which makes the host) is built.
        self.host: PluginHost = host  # type: ignore[assignment]
        self.service_id = service_id(config)
        self._connections_named = connections_named
        self._router = router or default_router()
        #: Where reports go; by default to the server over the bus (the server sets its own).
        self._send_report = send_report or self._send_upstream
        self._started_at = datetime.datetime.now(datetime.UTC)
        self._started_mono = time.monotonic()
        self._installed = installed_plugins()
        #: A control command in progress: plugin name -> stopping / starting.
        self._pending: dict[str, str] = {}
        self._history: dict[str, list[list[Any]]] = {}
        self._last_signature: Optional[Any] = None
        self._last_sent = 0.0
        self._log_sent = 0
        self._loop: Optional[LoopingCall] = None
        self._last_error: Optional[str] = None
        self._endpoint: Optional[PayloadEndpoint] = None
        self.log_tail = LogTail(self.service_id, self._plugin_of, config["admin.logTailLines"])
        # Installed now, so the lines plugins log while loading are in the tail.
        logging.getLogger().addHandler(self.log_tail)

    # ---- the report

    def _plugin_of(self, logger_name: str) -> str:
        root = logger_name.split(".", 1)[0]
        return root if root in self._installed or root.startswith("peek_plugin_") else ""

    def _note(self, name: str, state: str) -> None:
        history = self._history.setdefault(name, [])
        if not history or history[-1][0] != state:
            history.append([state, datetime.datetime.now(datetime.UTC).isoformat()])
            del history[:-HISTORY_LENGTH]

    def plugin_states(self) -> list[PluginStateTuple]:
        """Every enabled plugin (with pending control states) and every installed one."""
        found: list[PluginStateTuple] = []
        for record in list(self.host.records.values()):
            state = self._pending.get(record.name, record.state.value)
            self._note(record.name, state)
            found.append(PluginStateTuple(
                name=record.name,
                title=record.title,
                version=record.version,
                state=state,
                enabled=True,
                reason=record.reason,
                traceback=record.traceback,
                loadSeconds=record.load_seconds,
                startSeconds=record.start_seconds,
                history=[list(h) for h in self._history[record.name]],
            ))
        return found

    def report(self) -> ServiceStateTuple:
        """This service's state now."""
        enabled = set(self.config["plugin.enabled"]) | set(self.host.records)
        server = [c for c in connection_events(self._router).open_connections
                  if c.vortex_name == PeekVortexUtil.peekServerName]
        devices = []
        if self._connections_named is not None:
            for name in DEVICE_NAMES:
                for conn in self._connections_named(name):
                    devices.append(DeviceTuple(vortexName=conn.vortex_name,
                                               vortexUuid=conn.vortex_uuid,
                                               address=str(getattr(conn, "peer", ""))))
        return ServiceStateTuple(
            serviceId=self.service_id,
            service=self.config.service,
            host=socket.gethostname(),
            pid=os.getpid(),
            home=str(self.config.home),
            version=platform_version(),
            startedAt=self._started_at,
            uptimeSeconds=round(time.monotonic() - self._started_mono, 1),
            rssBytes=rss_bytes(),
            live=True,
            lastReportAt=datetime.datetime.now(datetime.UTC),
            vortexName=f"peek-{self.config.service}",
            vortexUuid=server[0].vortex_uuid if server else None,
            busPeer=str(getattr(server[0], "peer", "")) if server else None,
            plugins=self.plugin_states(),
            installedNotEnabled=[
                PluginStateTuple(name=name, version=v, state="installed", enabled=False)
                for name, v in self._installed.items() if name not in enabled
            ],
            deviceCount=len(devices),
            devices=devices,
            config=mask_secrets(self.config.data),
        )

    def _signature(self, report: ServiceStateTuple) -> Any:
        """What changes in a report other than its clock-driven fields."""
        return (
            [(p.name, p.state, p.reason) for p in report.plugins],
            [d.vortexUuid for d in report.devices],
            report.vortexUuid,
            [p.name for p in report.installedNotEnabled],
        )

    def tick(self, force: bool = False) -> None:
        """Send the report if it changed or is due, and any new log lines."""
        report = self.report()
        signature = self._signature(report)
        now = time.monotonic()
        due = now - self._last_sent >= self.config["admin.stateReportSeconds"]
        lines = self.log_tail.since(self._log_sent)
        if not (force or due or signature != self._last_signature or lines):
            return
        try:
            self._send_report(report, lines)
        except Exception as e:  # not connected yet: the next tick tries again
            logger.debug("State report not sent: %s", e)
            return
        self._last_signature = signature
        self._last_sent = now
        if lines:
            self._log_sent = lines[-1].seq

    def _send_upstream(self, report: ServiceStateTuple, lines: list[LogLineTuple]) -> None:
        server = PeekVortexUtil.peekServerName
        if not connection_events(self._router).is_connected(server):
            raise PlatformStateError("not connected to the server")
        self._router.send(Payload({"key": REPORT_KEY, **ADMIN_FILT}, [report]), server)
        if lines:
            self._router.send(Payload({"key": LOG_KEY, **ADMIN_FILT}, lines), server)

    def _tick_safely(self) -> None:
        try:
            self.tick()
        except Exception as e:
            # Never let one bad report stop the loop (the admin would see the service
            # gone), and log a repeating failure once, not every tick.
            if repr(e) != self._last_error:
                self._last_error = repr(e)
                logger.exception("Building the state report failed")
        else:
            self._last_error = None

    # ---- control

    async def apply(self, name: str, operation: str) -> PluginControlResultTuple:
        """Apply one control command to this service's plugins and say how it went."""
        result = PluginControlResultTuple(
            serviceId=self.service_id, pluginName=name, operation=operation)
        if operation not in OPERATIONS:
            result.error = f"unknown operation {operation!r} (use {', '.join(OPERATIONS)})"
            return result
        if self.config.service == "worker":
            result.error = ("the worker cannot change plugins while it runs (its Celery pool "
                            "imported their task modules); edit its plugin.enabled and "
                            "restart it")
            return result
        if operation != "enable" and name not in self.host.records:
            result.error = f"{name} is not enabled on the {self.config.service} service"
            return result
        if operation == "enable" and name not in self._installed:
            result.error = f"{name} is not installed (entry-point group peek.plugins)"
            return result
        self._set_pending(name, "starting" if operation == "enable" else "stopping")
        logger.info("Admin: %s plugin %s on the %s service", operation, name,
                    self.config.service)
        self.tick(force=True)
        try:
            await self._lifecycle(name, operation)
        except Exception as e:
            logger.exception("Admin: %s of plugin %s failed", operation, name)
            result.error = str(e)
        finally:
            del self._pending[name]
        record = self.host.records.get(name)
        result.state = record.state.value if record is not None else "disabled"
        if record is not None and record.state.value == "failed" and not result.error:
            result.error = record.reason
        result.ok = result.error is None
        self.tick(force=True)
        return result

    def _set_pending(self, name: str, state: str) -> None:
        # Noted here too: the host may drop the plugin's record while it is reloaded.
        self._pending[name] = state
        self._note(name, state)

    async def _lifecycle(self, name: str, operation: str) -> None:
        """The plugin host applies it (and writes plugin.enabled to config.json)."""
        control = {
            "enable": self.host.enable_plugin,
            "disable": self.host.disable_plugin,
            "reload": self.host.reload_plugin,
        }[operation]
        await control(name)

    async def _on_control(self, payloadEnvelope: PayloadEnvelope,
                          sendResponse: Callable[..., None], **_: Any) -> None:
        tuples = payloadEnvelope.decodePayload().tuples
        if len(tuples) != 1 or not isinstance(tuples[0], PluginControlTuple):
            raise PlatformStateError("a control message carries one PluginControlTuple")
        command = tuples[0]
        result = await self.apply(str(command.pluginName), str(command.operation))
        sendResponse(Payload({}, [result]))

    # ---- Service

    def startService(self) -> None:  # noqa: N802 - twisted API
        super().startService()
        if self.config.service != "server":
            # Only the server may command a service; the bus stamps who sent it.
            self._endpoint = PayloadEndpoint(
                {"key": CONTROL_KEY, **ADMIN_FILT}, self._on_control,
                acceptOnlyFromVortex=PeekVortexUtil.peekServerName, router=self._router)
        self._loop = LoopingCall(self._tick_safely)
        self._loop.clock = self._router.clock
        self._loop.start(self.config["admin.stateCheckSeconds"], now=True)

    def stopService(self) -> None:  # noqa: N802 - twisted API
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._endpoint is not None:
            self._endpoint.shutdown()
        logging.getLogger().removeHandler(self.log_tail)
