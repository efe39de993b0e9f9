"""Each service's ``config.json``: defaults, validation and atomic write-back.

The file lives in the service home, ``~/peek-<service>.home/`` unless ``--home`` or the
environment variable ``PEEK_<SERVICE>_HOME`` says otherwise. Keys the file lacks are filled
with their defaults and the file is written back atomically (a temporary file renamed over
it), keeping the user's values, key order and unknown keys. A file that does not parse, or
whose values are invalid, is never written; nor is a file without any write permission bit
(e.g. 0444): its missing keys take their defaults in memory only, and
:attr:`ServiceConfig.defaults_in_memory` names them so the service can say so.

Every way the file can be unusable (not UTF-8, not JSON, a key twice in one object, a
folder in its place, unreadable, a write-back the home refuses) is a ConfigError naming
the file, so the service exits with 78 and one line instead of a traceback.
"""

import json
import json.decoder
import json.scanner
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from peek_platform.errors import ConfigError, ConfigParseError, ConfigValidationError

SERVICES = ("server", "client", "agent", "worker")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Validator = Callable[[Any], Optional[str]]


def _is_port(value: Any) -> Optional[str]:
    if type(value) is not int or not 1 <= value <= 65535:
        return f"must be a TCP port number from 1 to 65535, got {value!r}"
    return None


def _is_port_or_zero(value: Any) -> Optional[str]:
    if type(value) is not int or not 0 <= value <= 65535:
        return f"must be 0 (off) or a TCP port number from 1 to 65535, got {value!r}"
    return None


def _is_int_at_least(minimum: int) -> Validator:
    def check(value: Any) -> Optional[str]:
        if type(value) is not int or value < minimum:
            return f"must be a whole number >= {minimum}, got {value!r}"
        return None

    return check


def _is_int_between(minimum: int, maximum: int) -> Validator:
    def check(value: Any) -> Optional[str]:
        if type(value) is not int or not minimum <= value <= maximum:
            return f"must be a whole number from {minimum} to {maximum}, got {value!r}"
        return None

    return check


def _is_seconds_between(minimum: float, maximum: float) -> Validator:
    def check(value: Any) -> Optional[str]:
        if type(value) not in (int, float) or not minimum <= value <= maximum:
            return f"must be a number of seconds from {minimum:g} to {maximum:g}, got {value!r}"
        return None

    return check


# Bus limits: a value outside these is a typo or disables the protection it sets
# (a 1e23-byte frame limit is no limit), so it is refused instead of applied.
_KIB = 1024
_GIB = 1024 * 1024 * 1024
_BUS_BYTES = _is_int_between(_KIB, _GIB)
_BUS_SECONDS = _is_seconds_between(0.1, 3600)


def _is_nonempty_str(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.strip():
        return f"must be a non-empty string, got {value!r}"
    return None


def _is_bool(value: Any) -> Optional[str]:
    if not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    return None


def _is_str(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"must be a string (may be empty), got {value!r}"
    return None


def _is_positive_number(value: Any) -> Optional[str]:
    if type(value) not in (int, float) or not value > 0:
        return f"must be a number > 0, got {value!r}"
    return None


def _is_token(value: Any) -> Optional[str]:
    if not isinstance(value, str) or (value and (len(value) < 16 or not value.isprintable())):
        return f"must be empty or a printable token of at least 16 characters, got {value!r}"
    return None


def _is_log_level(value: Any) -> Optional[str]:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        return f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}"
    return None


def _is_engine_args(value: Any) -> Optional[str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k.isidentifier() for k in value
    ):
        return f"must be an object of create_engine keyword arguments, got {value!r}"
    connect_args = value.get("connect_args", {})
    if not isinstance(connect_args, dict):
        return f"connect_args must be an object of driver arguments, got {connect_args!r}"
    timeout = connect_args.get("timeout", 1)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        return (f"connect_args.timeout (seconds a transaction waits for a database lock) "
                f"must be a positive number, got {timeout!r}")
    return None


def _is_plugin_list(value: Any) -> Optional[str]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        return f"must be a list of plugin package names, got {value!r}"
    return None


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


def _is_origin_list(value: Any) -> Optional[str]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and _ORIGIN.fullmatch(v) for v in value
    ):
        return ("must be a list of origins like \"https://admin.example.com\" (scheme and "
                f"host[:port], no path), got {value!r}")
    return None


BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")
RESULT_SCHEMES = ("redis", "rediss")
WORKER_POOLS = ("prefork", "solo", "threads")


def _is_celery_url(schemes: tuple[str, ...]) -> Validator:
    def check(value: Any) -> Optional[str]:
        if value == "embedded":
            return None
        if not isinstance(value, str) or value.partition("://")[0] not in schemes:
            allowed = ", ".join(f"{s}://..." for s in schemes)
            return f'must be "embedded" or a URL starting {allowed}; got {value!r}'
        return None

    return check


def _is_choice(choices: tuple[str, ...]) -> Validator:
    def check(value: Any) -> Optional[str]:
        if value not in choices:
            return f"must be one of {', '.join(choices)}, got {value!r}"
        return None

    return check


def _is_seconds(value: Any) -> Optional[str]:
    if type(value) not in (int, float) or value < 0:
        return f"must be a number of seconds >= 0 (0 = no limit), got {value!r}"
    return None


def _is_plugin_params(value: Any) -> Optional[str]:
    if not isinstance(value, dict):
        return ("must be an object mapping plugin package names to their parameter objects, "
                f"got {value!r}")
    bad = [f"plugin.params.{name} must be an object of parameters, got {params!r}"
           for name, params in value.items() if not isinstance(params, dict)]
    bad += [f"plugin.params has the key {name!r}, which is not a plugin package name"
            for name in value if not name.isidentifier()]
    if bad:
        return "is invalid: " + "; ".join(bad)
    return None


#: The sites each service can put endpoint routes on; the first is the default.
ENDPOINT_SITES = {"server": ("platform", "admin"), "client": ("mobile", "desktop")}


def default_endpoint_site(service: str) -> Optional[str]:
    """Where a plugin's endpoints go unless ``httpServer.endpointSites`` says otherwise."""
    names = ENDPOINT_SITES.get(service, ())
    return names[0] if names else None


def _is_endpoint_sites(service: str) -> Validator:
    names = ENDPOINT_SITES[service]

    def check(value: Any) -> Optional[str]:
        if not isinstance(value, dict):
            return f"must be an object mapping plugin names to a site name, got {value!r}"
        bad = {k: v for k, v in value.items() if v not in names}
        if bad:
            return (f"names sites the {service} service does not have: {bad!r} (its sites: "
                    f"{', '.join(names)})")
        return None

    return check


def _is_cors_origins(value: Any) -> Optional[str]:
    if not isinstance(value, list):
        return f'must be a list of origins such as "https://app.example.com", got {value!r}'
    bad = [o for o in value if not isinstance(o, str) or "://" not in o or "*" in o
           or o.endswith("/") or o.count("/") != 2 or o != o.strip()]
    if bad:
        return ("holds values that are not origins (scheme://host[:port], no path, no "
                f"wildcard): {bad!r}")
    return None


def _is_api_keys(value: Any) -> Optional[str]:
    from peek_platform.web.api_keys import check_entries

    return check_entries(value)


@dataclass(frozen=True)
class Setting:
    """One documented key: where it lives, its default, and how it is checked."""

    key: str
    default: Any
    check: Validator
    services: tuple[str, ...]
    doc: str


_CLIENTS = ("client", "agent", "worker")
#: Services that accept connections (HTTP sites and bus websockets).
ACCEPTING_SERVICES = ("server", "client")
_ACCEPTING = ACCEPTING_SERVICES
_CELERY = ("server", "worker")

#: Values of ``twisted.reactor`` (see :mod:`peek_platform.service.reactor`).
REACTORS = ("auto", "asyncio", "default")

#: The server's default database: an SQLite file in its home.
DEFAULT_DATABASE_URL = "sqlite:///{home}/peek.sqlite"
#: The embedded broker's default folder, beside the server's home.
EMBEDDED_DIR_NAME = "peek-celery"


SETTINGS: tuple[Setting, ...] = (
    Setting("plugin.enabled", [], _is_plugin_list, SERVICES,
            "plugin packages this service runs, in order"),
    Setting("logging.level", "INFO", _is_log_level, SERVICES,
            "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    Setting("logging.rotateSizeMb", 20, _is_int_at_least(1), SERVICES,
            "size in MB at which peek-<service>.log rotates"),
    Setting("logging.rotationsToKeep", 2, _is_int_at_least(0), SERVICES,
            "rotated log files kept"),
    Setting("logging.logToStdout", False, _is_bool, SERVICES,
            "also log to stdout (always on when stdout is a terminal)"),
    Setting("plugin.params", {}, _is_plugin_params, SERVICES,
            "per-plugin parameters: {\"<pluginName>\": {...}}; each plugin gets its object as "
            "self.platform.pluginParams"),
    Setting("twisted.reactor", "auto", _is_choice(REACTORS), SERVICES,
            "the Twisted reactor: auto (Twisted's own epoll reactor, the faster, unless an "
            "enabled plugin's plugin_package.json declares \"asyncio\": true), asyncio "
            "(Twisted on asyncio's loop; plugins may use asyncio and aiohttp) or default "
            "(Twisted's own epoll reactor; plugins may not)"),
    Setting("events.maxQueuePerSubscriber", 10000, _is_int_at_least(1), SERVICES,
            "platform events queued per event-plugin subscription before new ones are "
            "dropped (counted, logged once)"),
    Setting("events.maxBatch", 100, _is_int_at_least(1), SERVICES,
            "most platform events handed to one handleEvent call"),
    Setting("httpServer.admin.sitePort", 8010, _is_port, ("server",),
            "admin site port"),
    Setting("httpServer.admin.bindAddress", "127.0.0.1", _is_nonempty_str, ("server",),
            "admin site bind address (local only by default)"),
    Setting("httpServer.admin.plainPort", 0, _is_port_or_zero, ("server",),
            "with TLS on: also serve the admin site as plain http on this port (during a "
            "migration); 0: TLS only"),
    Setting("httpServer.admin.publicOrigins", [], _is_origin_list, ("server",),
            "origins (scheme://host[:port]) the admin site is reached at besides "
            "127.0.0.1/localhost on its port, e.g. the https address of a TLS reverse proxy; "
            "state-changing requests from other origins are refused, and an https origin "
            "makes the session cookie Secure"),
    Setting("httpServer.admin.sessionIdleSeconds", 3600, _is_seconds_between(1, 7 * 24 * 3600),
            ("server",), "an admin session ends after this long without a request or bus "
            "message"),
    Setting("httpServer.admin.sessionMaxSeconds", 43200, _is_seconds_between(1, 30 * 24 * 3600),
            ("server",), "an admin session ends this long after its login, in use or not"),
    Setting("httpServer.admin.pluginUploadMaxBytes", 32 * 1024 * 1024,
            _is_int_between(1024, 1024 * 1024 * 1024), ("server",),
            "largest plugin release (wheel or sdist) the admin site accepts, in bytes"),
    Setting("httpServer.admin.pluginUploadMaxUnpackedBytes", 256 * 1024 * 1024,
            _is_int_between(1024, 16 * 1024 * 1024 * 1024), ("server",),
            "largest total unpacked size of an uploaded release's members, in bytes "
            "(archive bombs are refused)"),
    Setting("httpServer.admin.pluginInstallTimeoutSeconds", 300,
            _is_seconds_between(1, 3600), ("server",),
            "how long pip may take to install an uploaded release before it is stopped"),
    Setting("httpServer.platform.sitePort", 8011, _is_port, ("server",),
            "platform (service-to-service) site port"),
    Setting("httpServer.platform.bindAddress", "0.0.0.0", _is_nonempty_str, ("server",),
            "platform site bind address"),
    Setting("httpServer.platform.plainPort", 0, _is_port_or_zero, ("server",),
            "with TLS on: also serve the platform site as plain http on this port (during a "
            "migration); 0: TLS only"),
    Setting("sqlalchemy.connectUrl", DEFAULT_DATABASE_URL, _is_nonempty_str,
            ("server",), "database URL; the default is an SQLite file in the home"),
    Setting("sqlalchemy.connectUrl", "", _is_str, ("worker",),
            "database URL worker tasks use (CeleryDbConn); must be the server's database; "
            "empty: the server's default SQLite file, peek.sqlite in the server's home "
            "(see server home below)"),
    Setting("sqlalchemy.engineArgs", {}, _is_engine_args, ("server", "worker"),
            "keyword arguments for SQLAlchemy's create_engine (pool_size, ...)"),
    Setting("peekServer.host", "127.0.0.1", _is_nonempty_str, _CLIENTS,
            "host of the server service"),
    Setting("peekServer.httpPort", 8011, _is_port, _CLIENTS,
            "port of the server's platform site"),
    Setting("peekServer.token", "", _is_token, _CLIENTS,
            "platform token for the bus; empty: read it from peekServer.tokenFile"),
    Setting("peekServer.tokenFile", "", _is_str, _CLIENTS,
            "file holding the platform token; empty: platform.token in the server's home "
            "(same machine)"),
    Setting("peekServer.tls", False, _is_bool, _CLIENTS,
            "connect to the server with wss:// (TLS) and verify its certificate and host name "
            "(peekServer.host); the server's platform site must serve TLS"),
    Setting("peekServer.caFile", "", _is_str, _CLIENTS,
            "PEM file of the CA certificate(s) the server's certificate must chain to "
            "(relative to the home); empty: the system's trusted CAs; needs peekServer.tls"),
    Setting("peekServer.reconnectInitialSeconds", 0.5, _is_positive_number, _CLIENTS,
            "first delay before reconnecting to the server (doubles, jittered)"),
    Setting("peekServer.reconnectMaxSeconds", 30, _is_positive_number, _CLIENTS,
            "longest delay between reconnect attempts"),
    Setting("vortex.maxFrameBytes", 16 * 1024 * 1024, _BUS_BYTES, SERVICES,
            "largest bus frame accepted or sent (1024 to 1073741824 bytes); bigger frames "
            "close that connection"),
    Setting("vortex.maxQueuedBytes", 64 * 1024 * 1024, _BUS_BYTES, SERVICES,
            "outbound bytes queued per bus connection before senders get back-pressure "
            "(1024 to 1073741824)"),
    Setting("vortex.maxDecompressedBytes", 64 * 1024 * 1024, _BUS_BYTES, SERVICES,
            "largest decompressed bus payload the codec accepts (1024 to 1073741824 bytes)"),
    Setting("vortex.heartbeatSeconds", 10, _BUS_SECONDS, SERVICES,
            "interval of bus heartbeat pings (0.1 to 3600 s)"),
    Setting("vortex.heartbeatTimeoutSeconds", 20, _BUS_SECONDS, SERVICES,
            "a bus peer that does not answer a ping within this is dropped (0.1 to 3600 s)"),
    Setting("admin.stateReportSeconds", 10, _is_seconds_between(1, 3600), SERVICES,
            "the service sends its state (plugins, process, bus, devices) to the server at "
            "least this often, and at once when it changes (1 to 3600 s)"),
    Setting("admin.stateCheckSeconds", 1, _is_seconds_between(0.1, 60), SERVICES,
            "how often the service checks its state and log for changes to send to the "
            "server (0.1 to 60 s)"),
    Setting("admin.logTailLines", 500, _is_int_between(10, 100000), SERVICES,
            "recent log lines the service keeps for the admin site's log page"),
    Setting("vortex.helloTimeoutSeconds", 10, _BUS_SECONDS, SERVICES,
            "time a new bus connection has to complete its hello (0.1 to 3600 s)"),
    Setting("vortex.actionDedupSeconds", 600, _is_seconds_between(1, 7 * 24 * 3600),
            ("server",),
            "how long the server remembers an action's final outcome (in the database) so "
            "a retry of its id is answered without running it again"),
    Setting("vortex.slowConsumerSeconds", 30, _is_seconds_between(0.1, 3600), SERVICES,
            "a bus peer whose send queue stays full this long is closed (4507) so that it "
            "reconnects and resyncs"),
    Setting("vortex.maxSubscriptionsPerConnection", 200, _is_int_between(1, 1_000_000),
            _CLIENTS, "selectors one bus connection may watch on one observable or proxy"),
    Setting("vortex.maxSubscriptionsPerConnection", 10_000, _is_int_between(1, 1_000_000),
            ("server",), "selectors one bus connection may watch on one observable; a "
            "client service subscribes once per selector any of its devices watches"),
    Setting("vortex.wrongTokenAttempts", 5, _is_int_between(1, 1000), _ACCEPTING,
            "wrong tokens one address may send before its hellos are refused (4429)"),
    Setting("vortex.wrongTokenBlockSeconds", 1, _is_seconds_between(0.1, 3600), _ACCEPTING,
            "first refusal period after too many wrong tokens; doubles per further one"),
    Setting("vortex.wrongTokenMaxBlockSeconds", 300, _is_seconds_between(0.1, 86400),
            _ACCEPTING, "longest refusal period for an address sending wrong tokens"),
    Setting("tls.certFile", "", _is_str, _ACCEPTING,
            "PEM certificate (then its chain) of this service's sites, relative to the home; "
            "set with tls.keyFile to serve every sitePort as https/wss; empty: plain http"),
    Setting("tls.keyFile", "", _is_str, _ACCEPTING,
            "PEM private key (unencrypted; keep it 0600) matching tls.certFile"),
    Setting("httpServer.headerTimeoutSeconds", 10, _is_seconds_between(0.1, 3600), _ACCEPTING,
            "an HTTP request (or websocket upgrade) must send all its headers within this "
            "of the connection opening or the previous response"),
    Setting("httpServer.maxUnauthenticatedConnections", 512,
            _is_int_between(1, 1_000_000), _ACCEPTING,
            "open connections not (yet) authenticated bus peers, all sites together; "
            "more are refused (503)"),
    Setting("httpServer.maxUnauthenticatedPerAddress", 64, _is_int_between(1, 1_000_000),
            _ACCEPTING, "the same, per source address; more are refused (429)"),
    Setting("httpServer.apiKeys", [], _is_api_keys, _ACCEPTING,
            "API keys admitting endpoint routes: [{\"name\", \"hash\": \"sha256:...\", "
            "\"sites\", \"plugins\", \"control\"}]; only digests (peek_api_key new)"),
    Setting("httpServer.maxRequestBodyBytes", 64 * 1024 * 1024, _BUS_BYTES, _ACCEPTING,
            "largest body of any HTTP request (1024 to 1073741824); larger is answered 413 "
            "before any of it is read (a chunked body: as soon as it passes the limit)"),
    Setting("httpServer.corsOrigins", [], _is_cors_origins, _ACCEPTING,
            "origins (scheme://host[:port]) whose pages may call endpoint routes; a request "
            "from any other origin is refused"),
    Setting("httpServer.endpointMaxBodyBytes", 1024 * 1024, _is_int_between(0, _GIB),
            _ACCEPTING, "largest request body an endpoint route accepts (413 above it)"),
    Setting("httpServer.endpointSites", {}, _is_endpoint_sites("server"), ("server",),
            "site of a plugin's endpoint routes: {\"<pluginName>\": \"admin\"}; default "
            "platform"),
    Setting("httpServer.endpointSites", {}, _is_endpoint_sites("client"), ("client",),
            "site of a plugin's endpoint routes: {\"<pluginName>\": \"desktop\"}; default "
            "mobile"),
    Setting("vortex.deviceToken", "", _is_token, ("client",),
            "when set, devices must present it in their bus hello; empty: anonymous devices"),
    Setting("httpServer.mobile.sitePort", 8000, _is_port, ("client",),
            "mobile device site port"),
    Setting("httpServer.mobile.bindAddress", "0.0.0.0", _is_nonempty_str, ("client",),
            "mobile device site bind address"),
    Setting("httpServer.mobile.plainPort", 0, _is_port_or_zero, ("client",),
            "with TLS on: also serve the mobile site as plain http on this port (during a "
            "migration); 0: TLS only"),
    Setting("httpServer.desktop.sitePort", 8002, _is_port, ("client",),
            "desktop device site port"),
    Setting("httpServer.desktop.bindAddress", "0.0.0.0", _is_nonempty_str, ("client",),
            "desktop device site bind address"),
    Setting("httpServer.desktop.plainPort", 0, _is_port_or_zero, ("client",),
            "with TLS on: also serve the desktop site as plain http on this port (during a "
            "migration); 0: TLS only"),
    Setting("celery.brokerUrl", "embedded", _is_celery_url(BROKER_SCHEMES), _CELERY,
            'task broker: "embedded" (SQLite files in celery.embeddedDir, nothing to install) '
            "or redis://host:6379/0, amqp://user:pass@host:5672//; same on server and worker"),
    Setting("celery.resultUrl", "embedded", _is_celery_url(RESULT_SCHEMES), _CELERY,
            'task result backend: "embedded" or redis://host:6379/1; same on server and '
            "worker"),
    Setting("celery.taskQueue", "peek", _is_nonempty_str, _CELERY,
            "queue the server sends tasks to and the worker consumes; same on both"),
    Setting("celery.embeddedDir", "", _is_str, _CELERY,
            "folder of the embedded broker and results; server and worker must name the "
            "same folder; empty: peek-celery beside the server's home"),
    Setting("celery.resultExpiresSeconds", 3600, _is_int_at_least(1), _CELERY,
            "how long a result nobody collected stays in the backend"),
    Setting("celery.visibilityTimeoutSeconds", 30, _is_seconds_between(1, 86400), _CELERY,
            "Redis and embedded brokers: a worker's lease on the task messages it holds; it "
            "renews the lease every quarter of this while it lives, so the unacknowledged "
            "(acks_late) tasks of a worker that died are redelivered this long after it died"),
    Setting("celery.taskTimeoutSeconds", 300, _is_seconds_between(0.1, 604800), ("server",),
            "a queued task's Deferred fails with TaskTimeoutError (and the task is revoked) "
            "when no result arrived within this; a task may set its own (task_timeout)"),
    Setting("celery.worker.nodeName", "peek-worker@%h", _is_nonempty_str, ("worker",),
            "Celery node name (%h = host name); unique per worker process on one broker, "
            "or control messages such as revoke reach only one of the same-named workers"),
    Setting("celery.worker.concurrency", 0, _is_int_at_least(0), ("worker",),
            "pool processes or threads; 0 = one per CPU"),
    Setting("celery.worker.pool", "prefork", _is_choice(WORKER_POOLS), ("worker",),
            "prefork (processes; time limits enforced), solo (in the main process) or "
            "threads"),
    Setting("celery.worker.prefetchMultiplier", 4, _is_int_at_least(1), ("worker",),
            "messages reserved per pool process; 1 is fairest for long tasks"),
    Setting("celery.worker.softTimeLimitSeconds", 0, _is_seconds, ("worker",),
            "SoftTimeLimitExceeded is raised in a task after this; 0 = none"),
    Setting("celery.worker.hardTimeLimitSeconds", 0, _is_seconds, ("worker",),
            "a task's process is killed after this (prefork only); 0 = none"),
    Setting("celery.worker.maxTasksPerChild", 0, _is_int_at_least(0), ("worker",),
            "replace a pool process after this many tasks; 0 = never"),
    Setting("celery.worker.taskEvents", True, _is_bool, ("worker",),
            "send task events (for Flower / celery events); not on the embedded broker"),
)


def settings_for(service: str) -> list[Setting]:
    """The settings the given service reads."""
    return [s for s in SETTINGS if service in s.services]


def home_env_var(service: str) -> str:
    """The environment variable that sets a service's home directory."""
    return f"PEEK_{service.upper()}_HOME"


def resolve_home(service: str, cli_home: Optional[str] = None) -> Path:
    """The home: ``--home``, else ``PEEK_<SERVICE>_HOME``, else ``~/peek-<service>.home``."""
    chosen = cli_home or os.environ.get(home_env_var(service))
    home = Path(chosen) if chosen else Path.home() / f"peek-{service}.home"
    return home.expanduser().absolute()


def resolve_server_home(service: str, home: Path, cli_server_home: Optional[str] = None,
                        ) -> Path:
    """The server's home as ``service`` (whose home is ``home``) sees it.

    The server's is its own home. Client, agent and worker take ``--server-home``, else
    ``PEEK_SERVER_HOME``, else ``peek-server.home`` beside their own home (for default homes:
    ``~/peek-server.home``). The platform token, the worker's default database and the
    embedded broker's default folder are all found from it, so one setting serves all three.
    """
    if service == "server":
        return home
    chosen = cli_server_home or os.environ.get(home_env_var("server"))
    server_home = Path(chosen) if chosen else home.parent / "peek-server.home"
    return Path(os.path.normpath(server_home.expanduser().absolute()))


class ServiceConfig:
    """A service's validated settings, read with dotted keys: ``config["logging.level"]``."""

    FILE_NAME = "config.json"

    def __init__(
        self, service: str, home: Path, data: dict[str, Any],
        defaults_in_memory: tuple[str, ...] = (), server_home: Optional[Path] = None,
    ) -> None:
        self.service = service
        self.home = home
        self.path = home / self.FILE_NAME
        self.data = data
        #: Keys the file lacks that were not written back because the file is read-only.
        self.defaults_in_memory = defaults_in_memory
        #: The server's home (see :func:`resolve_server_home`).
        self.server_home = server_home or resolve_server_home(service, home)

    def __getitem__(self, key: str) -> Any:
        return _lookup(self.data, key)

    @property
    def database_url(self) -> str:
        """``sqlalchemy.connectUrl``; empty (worker): the server's default SQLite file."""
        url: str = self["sqlalchemy.connectUrl"]
        return url or DEFAULT_DATABASE_URL.replace("{home}", self.server_home.as_posix())

    @property
    def embedded_dir(self) -> Path:
        """``celery.embeddedDir``; empty: ``peek-celery`` beside the server's home."""
        configured: str = self["celery.embeddedDir"]
        folder = Path(configured) if configured else self.server_home.parent / EMBEDDED_DIR_NAME
        return Path(os.path.normpath(folder.expanduser().absolute()))

    def edit_plugin_enabled(self, change: Callable[[list[str]], list[str]]) -> list[str]:
        """Apply ``change`` to ``plugin.enabled`` in config.json and return the new list.

        The file is read again (so edits made since the service started are kept), the new
        list is validated, the file is written atomically, and only ``plugin.enabled`` is
        updated in memory (other keys changed on disk wait for SIGHUP). Raises ConfigError
        naming the file when it cannot be read, validated or written; a read-only file is
        refused rather than changed.
        """
        data = read_json_object(self.path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigValidationError(self.path, ["the top level must be a JSON object"])
        _, problem = _fill(data, "plugin.enabled", [])
        if problem:
            raise ConfigValidationError(self.path, [problem])
        enabled = change(list(_lookup(data, "plugin.enabled")))
        error = _is_plugin_list(enabled)
        if error:
            raise ConfigValidationError(self.path, [f"plugin.enabled {error}"])
        if _is_read_only(self.path):
            raise ConfigError(self.path, "is read-only; plugin.enabled was not changed")
        data["plugin"]["enabled"] = enabled
        try:
            _atomic_write_json(self.path, data)
        except OSError as e:
            raise ConfigError(self.path, f"cannot be written ({e.strerror or e}); "
                              "plugin.enabled was not changed") from None
        self.data.setdefault("plugin", {})["enabled"] = list(enabled)
        return list(enabled)

    @classmethod
    def load(cls, service: str, home: Path, write_defaults: bool = True,
             server_home: Optional[Path] = None) -> "ServiceConfig":
        """Read, fill and validate ``home/config.json``; write it back if defaults were added.

        Raises a ConfigError naming the file (ConfigParseError, ConfigValidationError, or
        ConfigError when it cannot be read or written back) without touching the file. A
        file without write permission bits keeps its bytes: the added defaults stay in
        memory and are listed in ``defaults_in_memory``.
        """
        path = home / cls.FILE_NAME
        data = read_json_object(path)
        problems: list[str] = []
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise ConfigValidationError(path, ["the top level must be a JSON object"])

        added: list[str] = []
        for setting in settings_for(service):
            default = setting.default
            if isinstance(default, str):
                default = default.replace("{home}", home.as_posix())
            was_added, problem = _fill(data, setting.key, default)
            if was_added:
                added.append(setting.key)
            if problem:
                # One wrong container holds several keys; report it once.
                if problem not in problems:
                    problems.append(problem)
                continue
            error = setting.check(_lookup(data, setting.key))
            if error:
                problems.append(f"{setting.key} {error}")
        problems.extend(_cross_key_problems(data))
        problems.extend(_tls_problems(service, home, data))
        if problems:
            raise ConfigValidationError(path, problems)
        if added and write_defaults:
            if _is_read_only(path):
                # The owner locked the file (config management, an image): honour that.
                return cls(service, home, data, tuple(added), server_home)
            _write_back(home, path, data)
        return cls(service, home, data, server_home=server_home)


def _cross_key_problems(data: dict[str, Any]) -> list[str]:
    """Problems only visible across keys (reported when each key is valid on its own)."""
    try:
        interval = _lookup(data, "vortex.heartbeatSeconds")
        timeout = _lookup(data, "vortex.heartbeatTimeoutSeconds")
    except (KeyError, TypeError):
        return []  # a wrong container, already reported
    if _BUS_SECONDS(interval) is None and _BUS_SECONDS(timeout) is None and timeout <= interval:
        return [
            f"vortex.heartbeatTimeoutSeconds ({timeout!r}) must be greater than "
            f"vortex.heartbeatSeconds ({interval!r}), or every peer is dropped between pings"
        ]
    return []


#: Each site's plain-port key beside its TLS port key, per accepting service.
_SITE_PORTS = {
    "server": ("admin", "platform"),
    "client": ("mobile", "desktop"),
}


def _tls_problems(service: str, home: Path, data: dict[str, Any]) -> list[str]:
    """TLS files that cannot be used, and TLS settings that contradict each other.

    Checked at load (so at start and by --check-config), all at once: a missing or
    unreadable file, a file without PEM content, a key that does not match the certificate.
    """
    from peek_platform import tls

    try:
        valid = all(check(_lookup(data, key)) is None for key, check in (
            (tls.CERT_KEY, _is_str), (tls.KEY_KEY, _is_str), (tls.CA_KEY, _is_str),
            (tls.CLIENT_TLS_KEY, _is_bool)) if service in _setting_services(key))
    except (KeyError, TypeError):
        valid = False
    if not valid:
        return []  # a wrong value or container, already reported
    problems: list[str] = []
    if service in _SITE_PORTS:
        cert, key = _lookup(data, tls.CERT_KEY), _lookup(data, tls.KEY_KEY)
        problems.extend(tls.server_files_problems(home, cert, key))
        ports: dict[int, str] = {}
        for site in _SITE_PORTS[service]:
            port_key = f"httpServer.{site}.sitePort"
            ports.setdefault(_lookup_or_none(data, port_key), port_key)
            plain_key = f"httpServer.{site}.plainPort"
            plain = _lookup_or_none(data, plain_key)
            if not plain or _is_port(plain) is not None:
                continue
            if not cert:
                problems.append(f"{plain_key} is {plain} but TLS is off (tls.certFile is "
                                f"empty): httpServer.{site}.sitePort already serves plain "
                                "http; set it to 0")
            elif plain in ports:
                problems.append(f"{plain_key} ({plain}) is the same port as {ports[plain]}")
            else:
                ports[plain] = plain_key
    if service in _CLIENTS:
        ca = _lookup(data, tls.CA_KEY)
        if ca and not _lookup(data, tls.CLIENT_TLS_KEY):
            # A CA without TLS would send the platform token in clear: never downgrade.
            problems.append(f"{tls.CA_KEY} is set but {tls.CLIENT_TLS_KEY} is false: the "
                            "connection would be plain ws:// and the platform token sent in "
                            f"clear; set {tls.CLIENT_TLS_KEY} to true (or empty "
                            f"{tls.CA_KEY})")
        problems.extend(tls.ca_file_problems(home, ca))
    return problems


def _lookup_or_none(data: dict[str, Any], key: str) -> Any:
    """The value, or None when a container on the way is wrong (already reported)."""
    try:
        return _lookup(data, key)
    except (KeyError, TypeError):
        return None


def _setting_services(key: str) -> set[str]:
    return {service for s in SETTINGS if s.key == key for service in s.services}


def _is_read_only(path: Path) -> bool:
    """True when the file exists and has no write permission bit (checked by mode, not by
    access(), so a service run as root honours a 0444 file too)."""
    try:
        return not path.stat().st_mode & 0o222
    except FileNotFoundError:
        return False


def _write_back(home: Path, path: Path, data: dict[str, Any]) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        _atomic_write_json(path, data)
    except OSError as e:
        raise ConfigError(
            path,
            f"cannot write the missing default settings into it ({e.strerror or e}); make "
            f"{home} writable, or add the missing keys by hand or make the file read-only "
            "(then nothing is written)",
        ) from None


def read_json_object(path: Path) -> Any:
    """The parsed file, or None when it is missing or blank.

    Raises ConfigError naming the file when it cannot be read, and ConfigParseError
    (with line and column) when it is not UTF-8, not JSON, or repeats a key in an object.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError(
            path, "is a folder, not a file; move it away (a config.json is then created) "
            "or fix --home"
        ) from None
    except OSError as e:
        raise ConfigError(path, f"cannot be read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _line_column(raw, e.start)
        raise ConfigParseError(
            path, line, column,
            f"not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8",
        ) from None
    if not text.strip():
        return None
    try:
        return _strict_decoder(text).decode(text)
    except json.JSONDecodeError as e:
        raise ConfigParseError(path, e.lineno, e.colno, e.msg) from None
    except _DuplicateKeyError as e:
        line, column = _line_column(text, e.position)
        first_line, _ = _line_column(text, e.first_position)
        raise ConfigParseError(
            path, line, column,
            f"duplicate key {e.key!r} (first on line {first_line}); each key may appear "
            "once per object, remove one of them",
        ) from None


def _line_column(text: Union[str, bytes], position: int) -> tuple[int, int]:
    """1-based line and column of ``position``."""
    if isinstance(text, bytes):
        text = text[:position].decode("utf-8", "replace")
        position = len(text)
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return line, column


class _DuplicateKeyError(Exception):
    def __init__(self, key: str, first_position: int, position: int) -> None:
        super().__init__(key)
        self.key = key
        self.first_position = first_position
        self.position = position


def _strict_decoder(text: str) -> json.JSONDecoder:
    """A JSON decoder that raises _DuplicateKeyError (with both positions) for a repeated key.

    The standard decoder lets the last value win silently (and a write-back would then
    drop the first). The pure-Python scanner is used because it calls ``parse_object``,
    where the object's span, and so its keys' positions, is known; config files are small.
    """
    decoder = json.JSONDecoder()
    nested: list[tuple[int, int]] = []

    def parse_object(s_and_end: tuple[str, int], *_: Any) -> tuple[dict[str, Any], int]:
        start = s_and_end[1] - 1  # the "{"
        pairs, end = json.decoder.JSONObject(  # type: ignore[attr-defined]
            s_and_end, decoder.strict, scan_once, None, list, decoder.memo)
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                first, second = _key_positions(text, start, end, key, nested)
                raise _DuplicateKeyError(key, first, second)
            seen.add(key)
        nested.append((start, end))
        return dict(pairs), end

    decoder.parse_object = parse_object  # type: ignore[assignment]
    scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    decoder.scan_once = scan_once  # type: ignore[assignment]
    return decoder


def _key_positions(
    text: str, start: int, end: int, key: str, nested: list[tuple[int, int]]
) -> tuple[int, int]:
    """Where ``key`` first and next occurs as a key of the object ``text[start:end]`` (not
    of objects nested in it); the object's start stands in for a key spelled with escapes."""
    pattern = re.compile(r"[{,]\s*(" + re.escape(json.dumps(key)) + r")\s*:")
    found = [
        m.start(1) for m in pattern.finditer(text, start, end)
        if not any(start < a <= m.start(1) < b for a, b in nested)
    ]
    found += [start, start]
    return found[0], found[1]


def _lookup(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


def _fill(data: dict[str, Any], key: str, default: Any) -> tuple[bool, Optional[str]]:
    """Ensure ``key`` exists; returns (whether the default was added, problem)."""
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            return False, f"{where} must be an object of settings, got {child!r}"
        node = child
    if parts[-1] in node:
        return False, None
    node[parts[-1]] = json.loads(json.dumps(default))  # a fresh copy of mutable defaults
    return True, None


def _atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file in the same folder, then rename it over ``path``."""
    text = json.dumps(data, indent=4) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp_name, path.stat().st_mode & 0o777)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
