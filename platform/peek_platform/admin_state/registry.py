"""Runs in the server: keeps every service's reported state as observable tuples.

Observable ``peek_platform_admin`` (filt ``{"plugin": "peek_platform_admin"}``), served
only to ``peek-admin`` connections, with these tuple names and selectors:

=====================================================  ==================================
``peek_platform_admin.ServiceStateTuple``               ``{}`` every service, or
                                                        ``{"serviceId": id}`` one
``peek_platform_admin.LogLineTuple``                    ``{"serviceId": id}``, optional
                                                        ``"level"`` (minimum) and
                                                        ``"plugin"``
``peek_platform_admin.PluginSettingTuple``              ``{"pluginName": name}``
``peek_platform_admin.TupleLoaderTuple``                ``{}``, or ``{"pluginName": name}``
=====================================================  ==================================

A service's entry is keyed by its service id and is marked ``live=False`` (with
``goneAt``) when its bus connection closes, which the transport does when heartbeats stop
for ``vortex.heartbeatTimeoutSeconds``; its next report (after a restart or reconnect)
makes it live again. Reports and log lines are taken only from ``peek-client``,
``peek-agent`` and ``peek-worker`` connections, as themselves.
"""

import collections
import datetime
import importlib
import logging
from collections.abc import Callable
from typing import Any, Optional

from twisted.application.service import Service

from peek_platform.admin_state.reporter import StateReporter
from peek_platform.admin_state.rpc import start_admin_rpcs
from peek_platform.admin_state.tuples import (
    ADMIN_FILT,
    ADMIN_OBSERVABLE_NAME,
    CONTROL_KEY,
    LOG_KEY,
    OPERATIONS,
    REPORT_KEY,
    LogLineTuple,
    PluginControlResultTuple,
    PluginControlTuple,
    PluginSettingTuple,
    ServiceStateTuple,
    TupleLoaderTuple,
)
from peek_platform.errors import PlatformStateError
from peek_platform.plugin.host import PluginHost, PluginState
from peek_plugin_base import PeekVortexUtil
from peek_vortex import LogThrottle
from peek_vortex.errors import AccessDeniedError
from peek_vortex.handlers import (
    OP_POLL,
    OP_SUBSCRIBE,
    ObservableMessages,
    RpcHandle,
    TupleDataObservableHandler,
    TuplesProviderABC,
)
from peek_vortex.routing import (
    PayloadEndpoint,
    PayloadRouter,
    VortexSender,
    connection_events,
    default_router,
    run_in_thread,
)
from peek_vortex.transport import DEVICE_NAMES, SERVICE_NAMES
from peek_vortex.tuples import TupleSelector
from peek_vortex.wire import Payload, PayloadEnvelope

logger = logging.getLogger(__name__)

#: A refused observer is logged once per connection.
_refusals = LogThrottle(logger)
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: Seconds the server waits for a service to apply a control command.
CONTROL_TIMEOUT_SECONDS = 120.0


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _Provider(TuplesProviderABC):
    """A provider from a function of the selector."""

    def __init__(self, tuples: Callable[[dict[str, Any]], Any]) -> None:
        self._tuples = tuples

    async def makeVortexMsg(self, filt: dict[str, Any], tupleSelector: TupleSelector) -> bytes:
        found = self._tuples(dict(tupleSelector.selector))
        if hasattr(found, "__await__"):
            found = await found
        return Payload(filt, found).toVortexMsg()


class StateRegistry(Service):
    """The server's view of every service, and the admin-only calls on it."""

    name = "admin-state-registry"

    def __init__(self, reporter: StateReporter, host: Optional[PluginHost], log_lines: int,
                 router: Optional[PayloadRouter] = None) -> None:
        self.reporter = reporter
        #: Set once the service tree (which makes the host) is built.
        self.host: PluginHost = host  # type: ignore[assignment]
        self._router = router or default_router()
        self._log_lines = log_lines
        self.services: dict[str, ServiceStateTuple] = {}
        self.logs: dict[str, collections.deque[LogLineTuple]] = {}
        #: Connection uuid -> service id, and the connection a service reports over.
        self._sid_of: dict[str, str] = {}
        self._conn_of: dict[str, VortexSender] = {}
        self._endpoints: list[PayloadEndpoint] = []
        self.observable: Optional[TupleDataObservableHandler] = None
        self._stop_listening: Optional[Callable[[], None]] = None
        self._rpcs: list[RpcHandle] = []
        # The server reports to itself, without the bus.
        reporter._send_report = self.take_local

    # ---- reports in

    def take_local(self, report: ServiceStateTuple, lines: list[LogLineTuple]) -> None:
        """The server's own report and log lines."""
        self._take(report, lines)

    def _take(self, report: Optional[ServiceStateTuple], lines: list[LogLineTuple]) -> None:
        if report is not None:
            self.services[report.serviceId] = report
            self._notify(ServiceStateTuple.tupleName(), {})
            self._notify(ServiceStateTuple.tupleName(), {"serviceId": report.serviceId})
        if lines:
            sid = lines[0].serviceId
            tail = self.logs.setdefault(sid, collections.deque(maxlen=self._log_lines))
            tail.extend(lines)
            self._notify_logs(sid)

    def _on_report(self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str,
                   **_: Any) -> None:
        tuples = payloadEnvelope.decodePayload().tuples
        if len(tuples) != 1 or not isinstance(tuples[0], ServiceStateTuple):
            raise PlatformStateError(f"a state report from {vortexName} must carry one "
                                     "ServiceStateTuple")
        report = tuples[0]
        expected = vortexName.removeprefix("peek-")
        if report.service != expected:
            # A service reports only as itself: an agent cannot pose as a client.
            raise PlatformStateError(f"{vortexName} sent a report for a {report.service!r} "
                                     "service")
        report.vortexUuid = vortexUuid
        previous = self._sid_of.get(vortexUuid)
        if previous is not None and previous != report.serviceId:
            raise PlatformStateError(f"connection {vortexUuid} already reports as {previous}")
        self._sid_of[vortexUuid] = report.serviceId
        for conn in connection_events(self._router).open_connections:
            if conn.vortex_uuid == vortexUuid:
                self._conn_of[report.serviceId] = conn
        self._take(report, [])

    def _on_log(self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str,
                **_: Any) -> None:
        sid = self._sid_of.get(vortexUuid)
        if sid is None:
            return  # lines before the first report: the service resends nothing lost
        lines = [t for t in payloadEnvelope.decodePayload().tuples
                 if isinstance(t, LogLineTuple)]
        for line in lines:
            line.serviceId = sid  # a service logs only as itself
        self._take(None, lines)

    def _refuse(self, payloadEnvelope: PayloadEnvelope, vortexName: str, vortexUuid: str,
                sendResponse: Callable[..., None], **_: Any) -> None:
        """Answer a non-admin observer with AccessDeniedError instead of silence."""
        _refusals.log(vortexUuid, f"Refused {vortexName} observing {ADMIN_OBSERVABLE_NAME}",
                      "Refused %s (%s) observing %s: only %s may", vortexName, vortexUuid,
                      ADMIN_OBSERVABLE_NAME, PeekVortexUtil.peekAdminName)
        messages = ObservableMessages(ADMIN_OBSERVABLE_NAME, ADMIN_FILT)
        sendResponse(messages.error(
            payloadEnvelope.filt.get("tupleSelector"), AccessDeniedError.code,
            f"only {PeekVortexUtil.peekAdminName} may observe {ADMIN_OBSERVABLE_NAME}"))

    # ---- connections

    def on_connection_open(self, connection: VortexSender) -> None:
        pass

    def on_connection_lost(self, connection: VortexSender) -> None:
        sid = self._sid_of.pop(connection.vortex_uuid, None)
        if sid is None or sid not in self.services:
            return
        if self._conn_of.get(sid) is connection:
            del self._conn_of[sid]
        state = self.services[sid]
        if state.vortexUuid != connection.vortex_uuid:
            return  # an older connection of a service that already reconnected
        state.live = False
        state.goneAt = _now()
        logger.info("Admin state: %s is gone (its bus connection closed)", sid)
        self._notify(ServiceStateTuple.tupleName(), {})
        self._notify(ServiceStateTuple.tupleName(), {"serviceId": sid})

    # ---- observable

    def _notify(self, name: str, selector: dict[str, Any]) -> None:
        if self.observable is not None:
            self.observable.notifyOfTupleUpdate(TupleSelector(name, selector))

    def _notify_logs(self, sid: str) -> None:
        # Subscribers choose level/plugin filters; the handler knows which are watched.
        if self.observable is not None:
            self.observable.notifyOfTupleUpdateForTuple(LogLineTuple.tupleName())

    def _service_tuples(self, selector: dict[str, Any]) -> list[ServiceStateTuple]:
        sid = selector.get("serviceId")
        if sid is not None:
            return [self.services[sid]] if sid in self.services else []
        return [self.services[k] for k in sorted(self.services)]

    def _log_tuples(self, selector: dict[str, Any]) -> list[LogLineTuple]:
        lines = list(self.logs.get(str(selector.get("serviceId")), ()))
        minimum = _LEVELS.get(str(selector.get("level", "DEBUG")).upper(), 0)
        plugin = selector.get("plugin")
        return [
            line for line in lines
            if _LEVELS.get(line.level, 0) >= minimum and (plugin is None or line.plugin == plugin)
        ]

    # ---- plugin declarations (plugin_package.json "admin")

    def _admin_cfg(self, plugin_name: str) -> dict[str, Any]:
        record = self.host.records.get(plugin_name)
        if record is None or record.state is not PluginState.RUNNING:
            raise PlatformStateError(f"{plugin_name} is not running on the server")
        admin = record.package_cfg.get("admin", {})
        if not isinstance(admin, dict):
            raise PlatformStateError(f'{plugin_name}: plugin_package.json "admin" must be an '
                                     "object")
        return admin

    def tuple_loaders(self, selector: dict[str, Any]) -> list[TupleLoaderTuple]:
        """Every running server plugin's declared tuple-loader pages."""
        wanted = selector.get("pluginName")
        found: list[TupleLoaderTuple] = []
        for name, record in self.host.records.items():
            if record.state is not PluginState.RUNNING or wanted not in (None, name):
                continue
            try:
                declared = self._admin_cfg(name).get("tupleLoaders", [])
                found.extend(_loader(name, d) for d in declared)
            except PlatformStateError as e:
                logger.warning("Admin: %s", e)
        return found

    def _settings_access(self, plugin_name: str) -> tuple[Callable[..., Any], dict[str, Any],
                                                           Callable[[], Any]]:
        settings = self._admin_cfg(plugin_name).get("settings")
        if not isinstance(settings, dict):
            raise PlatformStateError(f"{plugin_name} declares no settings "
                                     '(plugin_package.json "admin": {"settings": ...})')
        function = _resolve(plugin_name, settings.get("function"))
        properties = _resolve(plugin_name, settings.get("properties"))
        hook = self.host.records[plugin_name].entry_hook
        session_creator = getattr(hook, "dbSessionCreator", None)
        if not callable(function) or not isinstance(properties, dict) or session_creator is None:
            raise PlatformStateError(f"{plugin_name}: settings need a function, a properties "
                                     "dict and plugin storage")
        return function, properties, session_creator

    async def settings(self, selector: dict[str, Any]) -> list[PluginSettingTuple]:
        """A server plugin's global settings with their types and defaults."""
        name = str(selector.get("pluginName"))
        function, properties, session_creator = self._settings_access(name)

        def read() -> dict[str, Any]:
            session = session_creator()
            try:
                values = function(session)
                session.commit()  # rows for new keys are created with their defaults
                return values
            finally:
                session.close()

        values = await run_in_thread(read)
        return [
            PluginSettingTuple(pluginName=name, key=key, value=values.get(key),
                               type=prop.typeName, defaultValue=prop.defaultValue)
            for key, prop in properties.items()
        ]

    # ---- admin calls (see peek_platform.admin_state.rpc)

    async def update_setting(self, plugin_name: str, key: str, value: Any) -> Any:
        """Set one setting of a server plugin; returns the stored value."""
        function, properties, session_creator = self._settings_access(plugin_name)
        if key not in properties:
            raise PlatformStateError(f"{plugin_name} has no setting {key!r} (declared: "
                                     f"{', '.join(sorted(properties))})")

        def write() -> Any:
            session = session_creator()
            try:
                function(session, key, value)
                session.commit()
                return function(session, key)
            finally:
                session.close()

        try:
            stored = await run_in_thread(write)
        except PlatformStateError:
            raise
        except Exception as e:
            raise PlatformStateError(f"{plugin_name}.{key}: {e}") from e
        logger.info("Admin: setting %s.%s changed", plugin_name, key)
        self._notify(PluginSettingTuple.tupleName(), {"pluginName": plugin_name})
        return stored

    async def control(self, sid: str, plugin_name: str,
                      operation: str) -> list[PluginControlResultTuple]:
        """Send a control command to one service (``sid``) or every live one (``"*"``)."""
        if operation not in OPERATIONS:
            raise PlatformStateError(f"unknown operation {operation!r} "
                                     f"(use {', '.join(OPERATIONS)})")
        if sid == "*":
            targets = [k for k, v in sorted(self.services.items()) if v.live]
        elif sid not in self.services:
            raise PlatformStateError(f"no service {sid!r} has reported to the server")
        else:
            targets = [sid]
        results = []
        for target in targets:
            results.append(await self._control_one(target, plugin_name, operation))
        return results

    async def _control_one(self, sid: str, plugin_name: str,
                           operation: str) -> PluginControlResultTuple:
        if sid == self.reporter.service_id:
            return await self.reporter.apply(plugin_name, operation)
        conn = self._conn_of.get(sid)
        if conn is None or not self.services[sid].live:
            return PluginControlResultTuple(serviceId=sid, pluginName=plugin_name,
                                            operation=operation, error=f"{sid} is not connected")
        reply = await self._router.request(
            Payload({"key": CONTROL_KEY, **ADMIN_FILT},
                    [PluginControlTuple(pluginName=plugin_name, operation=operation)]),
            conn, timeout=CONTROL_TIMEOUT_SECONDS)  # type: ignore[arg-type]
        tuples = reply.decodePayload().tuples
        if len(tuples) != 1 or not isinstance(tuples[0], PluginControlResultTuple):
            raise PlatformStateError(f"{sid} answered a control command with {tuples!r}")
        result = tuples[0]
        result.serviceId = sid
        return result

    # ---- Service

    def startService(self) -> None:  # noqa: N802 - twisted API
        super().startService()
        services = sorted(SERVICE_NAMES)
        self._endpoints = [
            PayloadEndpoint({"key": REPORT_KEY, **ADMIN_FILT}, self._on_report,
                            acceptOnlyFromVortex=services, router=self._router),
            PayloadEndpoint({"key": LOG_KEY, **ADMIN_FILT}, self._on_log,
                            acceptOnlyFromVortex=services, router=self._router),
        ]
        messages = ObservableMessages(ADMIN_OBSERVABLE_NAME, ADMIN_FILT)
        others = sorted(SERVICE_NAMES | DEVICE_NAMES)
        self._endpoints += [
            PayloadEndpoint(messages.endpoint_filt(op), self._refuse,
                            acceptOnlyFromVortex=others, router=self._router)
            for op in (OP_SUBSCRIBE, OP_POLL)
        ]
        self._stop_listening = connection_events(self._router).add_listener(self)
        observable = TupleDataObservableHandler(
            ADMIN_OBSERVABLE_NAME, ADMIN_FILT, router=self._router,
            acceptOnlyFromVortex=PeekVortexUtil.peekAdminName)
        observable.addTupleProvider(ServiceStateTuple.tupleName(),
                                    _Provider(self._service_tuples))
        observable.addTupleProvider(LogLineTuple.tupleName(), _Provider(self._log_tuples))
        observable.addTupleProvider(PluginSettingTuple.tupleName(), _Provider(self.settings))
        observable.addTupleProvider(TupleLoaderTuple.tupleName(),
                                    _Provider(self.tuple_loaders))
        self.observable = observable
        self._rpcs = start_admin_rpcs(self, self._router)

    def stopService(self) -> None:  # noqa: N802 - twisted API
        super().stopService()
        for rpc in self._rpcs:
            rpc.shutdown()
        self._rpcs = []
        for endpoint in self._endpoints:
            endpoint.shutdown()
        if self.observable is not None:
            self.observable.shutdown()
            self.observable = None
        if self._stop_listening is not None:
            self._stop_listening()


def _resolve(plugin_name: str, reference: Any) -> Any:
    """``"module:attribute"`` inside the plugin's own package."""
    if not isinstance(reference, str) or ":" not in reference:
        raise PlatformStateError(f'{plugin_name}: expected "module:attribute", got '
                                 f"{reference!r}")
    module_name, attribute = reference.split(":", 1)
    if module_name != plugin_name and not module_name.startswith(plugin_name + "."):
        raise PlatformStateError(f"{plugin_name}: {reference!r} is outside the plugin")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as e:
        raise PlatformStateError(f"{plugin_name}: cannot find {reference!r}: {e}") from e


def _loader(plugin_name: str, declared: Any) -> TupleLoaderTuple:
    """One ``tupleLoaders`` entry, checked."""
    if not isinstance(declared, dict):
        raise PlatformStateError(f"{plugin_name}: each tupleLoaders entry must be an object")
    filt = declared.get("filt")
    fields = declared.get("fields", [])
    if not isinstance(filt, dict) or "key" not in filt:
        raise PlatformStateError(f'{plugin_name}: a tuple loader needs a "filt" with a "key"')
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise PlatformStateError(f'{plugin_name}: a tuple loader\'s "fields" must be names')
    return TupleLoaderTuple(pluginName=plugin_name, title=str(declared.get("title", "")),
                            tupleType=str(declared.get("tupleType", "")), filt=filt,
                            fields=fields)
