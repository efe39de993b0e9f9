"""The tuple types, observable name and message keys of the platform's admin state.

Every name here is part of the contract with the admin pages (the browser bus client
observes ``ADMIN_OBSERVABLE_NAME`` with ``ADMIN_FILT`` and calls the RPCs in
:mod:`peek_platform.admin_state.rpc`), so renaming one is a breaking change.
"""

from typing import Any

from peek_vortex.tuples import Tuple, TupleField, addTupleType

#: The observable the admin pages watch (``TupleSelector(<tuple name>, selector)``).
ADMIN_OBSERVABLE_NAME = "peek_platform_admin"
#: Added to every admin message's filt so no plugin's handler sees them.
ADMIN_FILT: dict[str, Any] = {"plugin": "peek_platform_admin"}
#: A service's report to the server (one ServiceStateTuple).
REPORT_KEY = "peek_platform_admin.report"
#: A batch of a service's new log lines to the server (LogLineTuples).
LOG_KEY = "peek_platform_admin.log"
#: A plugin control command from the server to one service (one PluginControlTuple).
CONTROL_KEY = "peek_platform_admin.control"

_PREFIX = "peek_platform_admin."


@addTupleType
class PluginStateTuple(Tuple):
    """One plugin on one service: enabled (with its lifecycle state) or only installed."""

    __tupleType__ = _PREFIX + "PluginStateTuple"

    name = TupleField()
    title = TupleField()
    version = TupleField()
    #: prepared, loaded, running, stopped, failed, skipped; during a control command
    #: also stopping / starting; ``installed`` for an installed plugin not enabled here.
    state = TupleField()
    enabled = TupleField(defaultValue=True)
    #: Why it failed or was skipped (one line), and the traceback when there is one.
    reason = TupleField()
    traceback = TupleField()
    loadSeconds = TupleField()
    startSeconds = TupleField()
    #: The last state changes, oldest first: ``[state, ISO time]`` pairs.
    history = TupleField(defaultValue=list)


@addTupleType
class DeviceTuple(Tuple):
    """A device connected to a client service's device websocket."""

    __tupleType__ = _PREFIX + "DeviceTuple"

    vortexName = TupleField()
    vortexUuid = TupleField()
    address = TupleField()


@addTupleType
class ServiceStateTuple(Tuple):
    """One service process as the server last heard of it.

    ``serviceId`` is ``<service>@<host>:<home>``: stable across restarts, so a service
    that comes back replaces its ``live=False`` entry.
    """

    __tupleType__ = _PREFIX + "ServiceStateTuple"

    serviceId = TupleField()
    service = TupleField()
    host = TupleField()
    pid = TupleField()
    home = TupleField()
    version = TupleField()
    startedAt = TupleField()
    uptimeSeconds = TupleField()
    rssBytes = TupleField()
    #: False once its bus connection closed (or, for the server, never).
    live = TupleField(defaultValue=True)
    lastReportAt = TupleField()
    goneAt = TupleField()
    #: The bus: the vortex name it connects as, its connection uuid, the server's address.
    vortexName = TupleField()
    vortexUuid = TupleField()
    busPeer = TupleField()
    plugins = TupleField(defaultValue=list)
    #: Installed (entry-point group peek.plugins) but not in plugin.enabled.
    installedNotEnabled = TupleField(defaultValue=list)
    deviceCount = TupleField(defaultValue=0)
    devices = TupleField(defaultValue=list)
    #: Its config.json with every secret replaced by ``"***"``.
    config = TupleField(defaultValue=dict)


@addTupleType
class LogLineTuple(Tuple):
    """One line of a service's log; ``plugin`` is the plugin package the logger is in."""

    __tupleType__ = _PREFIX + "LogLineTuple"

    serviceId = TupleField()
    seq = TupleField()
    time = TupleField()
    level = TupleField()
    logger = TupleField()
    plugin = TupleField()
    message = TupleField()


@addTupleType
class PluginControlTuple(Tuple):
    """A command the server sends to one service: ``operation`` on ``pluginName``."""

    __tupleType__ = _PREFIX + "PluginControlTuple"

    pluginName = TupleField()
    #: enable, disable or reload
    operation = TupleField()


@addTupleType
class PluginControlResultTuple(Tuple):
    """What one service did with a control command."""

    __tupleType__ = _PREFIX + "PluginControlResultTuple"

    serviceId = TupleField()
    pluginName = TupleField()
    operation = TupleField()
    ok = TupleField(defaultValue=False)
    #: The plugin's state afterwards, or why it could not be done.
    state = TupleField()
    error = TupleField()


@addTupleType
class PluginSettingTuple(Tuple):
    """One SettingProperty of a server plugin's global settings."""

    __tupleType__ = _PREFIX + "PluginSettingTuple"

    pluginName = TupleField()
    key = TupleField()
    value = TupleField()
    #: bool, int, float or str (from the key's default)
    type = TupleField()
    defaultValue = TupleField()


@addTupleType
class TupleLoaderTuple(Tuple):
    """A plugin's declared tuple-loader page: edit ``tupleType`` rows through the
    OrmCrudHandler listening on ``filt`` (send to ``peek-server``)."""

    __tupleType__ = _PREFIX + "TupleLoaderTuple"

    pluginName = TupleField()
    title = TupleField()
    tupleType = TupleField()
    filt = TupleField(defaultValue=dict)
    #: Column names shown and edited, in order.
    fields = TupleField(defaultValue=list)


OPERATIONS = ("enable", "disable", "reload")
