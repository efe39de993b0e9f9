"""Every error the platform raises, each carrying the context needed to act on it.

::

    PeekError
    ├── ConfigError                    config.json cannot be used
    │   ├── ConfigParseError           not valid JSON (file, line, column)
    │   └── ConfigValidationError      parsed, but values are wrong (all problems at once)
    ├── PluginError                    one plugin, named, could not do something
    │   ├── PluginLoadError            import / plugin_package.json / entry hook / load()
    │   ├── PluginStartError           start() raised or its Deferred failed
    │   ├── PluginDependencyError      a required plugin is missing, failed, or in a cycle
    │   ├── PluginControlError         reload / enable / disable of a running service failed
    │   ├── PluginDeviceUiError        a "mobile"/"desktop" section (or the "admin" page)
    │   │                              of plugin_package.json is unusable (names the key)
    │   └── PluginTaskModuleError      a worker plugin's celeryApp / celeryAppIncludes unusable
    ├── WorkerServiceError             the worker service cannot run its Celery worker
    ├── ServiceTreeError               a process's services cannot be ordered: a child
                                       without a name, an unknown requirement, a cycle
    ├── TlsError                       a certificate, key or CA file cannot be used
                                       (names the setting and the file)
    ├── PlatformStateError             a state report or admin command cannot be handled
    ├── StorageError                   the database cannot be used (names the schema)
    │   ├── SchemaMigrationError       a schema (the platform's or a plugin's) did not migrate
    │   ├── PluginStorageError         a plugin's storage declaration is wrong
    │   └── StorageServiceNotRunningError  database work asked for while storage is stopped
    ├── VortexTokenError               the platform token cannot be created or found
    │                                  (also a VortexTransportError, see below)
    ├── AdminAccountError              an admin account cannot be created or changed
    └── PluginUploadError              an uploaded plugin release is refused or does not
                                       install (names the file and what was wrong)

The transport errors a plugin can see when it sends (VortexTransportError and its
VortexConnectionClosedError, VortexFrameTooLargeError, VortexBackPressureError) belong to the
bus's one error tree in ``peek_vortex.errors`` (importable from here too), under
``VortexError``; plugins catch them as ``VortexTransportError`` or ``VortexError``, both
exported by their façade ``peek_plugin_base.vortex``.

Plugin-facing storage errors (a newer schema, a failing migration script, a bad setting)
live in ``peek_plugin_base.storage.StorageErrors``; the platform wraps them in
SchemaMigrationError with their message. Errors of queued worker tasks are plugin-facing
and live in ``peek_plugin_base.worker.errors``; ``EndpointError`` (an HTTP status and a
message a JSON endpoint handler raises for its caller) lives in ``peek_plugin_base.endpoints``;
``AsyncioReactorError`` (plugin code called asyncio on a service running Twisted's default
reactor; names the plugin and the setting) lives in ``peek_plugin_base.aio``.
"""

from pathlib import Path
from typing import ClassVar

from peek_vortex.errors import (
    VortexBackPressureError,
    VortexConnectionClosedError,
    VortexFrameTooLargeError,
    VortexTransportError,
)

__all__ = [
    "AdminAccountError",
    "ConfigError",
    "ConfigParseError",
    "ConfigValidationError",
    "PeekError",
    "PlatformStateError",
    "PluginControlError",
    "PluginDependencyError",
    "PluginDeviceUiError",
    "PluginError",
    "PluginLoadError",
    "PluginStartError",
    "PluginStorageError",
    "PluginTaskModuleError",
    "SchemaMigrationError",
    "ServiceTreeError",
    "StorageServiceNotRunningError",
    "StorageError",
    "TlsError",
    "VortexBackPressureError",
    "VortexConnectionClosedError",
    "VortexFrameTooLargeError",
    "VortexTokenError",
    "VortexTransportError",
    "WorkerServiceError",
]


class PeekError(Exception):
    """The root of the platform's errors."""


class ConfigError(PeekError):
    """A service's config.json cannot be used."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class ConfigParseError(ConfigError):
    """The config file is not valid JSON; names the file, line and column."""

    def __init__(self, path: Path, line: int, column: int, reason: str) -> None:
        super().__init__(path, f"line {line} column {column}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason


class ConfigValidationError(ConfigError):
    """The config file parsed but some values are wrong; lists every problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(path, f"{len(problems)} invalid setting(s):\n{listed}")
        self.problems = problems


class PluginError(PeekError):
    """Something went wrong with one plugin; names it and says why."""

    def __init__(self, plugin_name: str, reason: str) -> None:
        super().__init__(f"plugin {plugin_name}: {reason}")
        self.plugin_name = plugin_name
        self.reason = reason


class PluginLoadError(PluginError):
    """The plugin could not be imported, described, constructed or loaded."""


class PluginStartError(PluginError):
    """The plugin's start() failed."""


class PluginDependencyError(PluginError):
    """A plugin named in requiresPlugins is missing, failed, or part of a cycle."""


class PluginControlError(PluginError):
    """Reloading, enabling or disabling a plugin in a running service did not succeed.

    The reason says what happened (not enabled, not installed, config.json not writable,
    or the failure that left the plugin ``failed``); the other plugins keep running.
    """


class PluginDeviceUiError(PluginError):
    """A plugin's device UI declaration (``mobile`` / ``desktop`` in plugin_package.json),
    or its admin page (``admin``), cannot be used; names the plugin and the key
    (``mobile.webDir``, ``admin.entry``, ...)."""

    def __init__(self, plugin_name: str, key: str, reason: str) -> None:
        super().__init__(plugin_name, f'plugin_package.json "{key}": {reason}')
        self.key = key


class StorageError(PeekError):
    """The database cannot be used; names the schema and says why."""

    def __init__(self, schema: str, reason: str) -> None:
        super().__init__(f"storage schema {schema}: {reason}")
        self.schema = schema
        self.reason = reason


class SchemaMigrationError(StorageError):
    """A schema could not be brought to the installed code's revision; nothing changed."""


class PluginStorageError(StorageError):
    """A plugin's storage declaration (name, alembicDir, entry hook) is not usable."""


class StorageServiceNotRunningError(StorageError):
    """Database work was asked for while the storage service (and its database threads) is
    not running: a service that uses the database must require ``storage``."""


class VortexTokenError(VortexTransportError, PeekError):
    """The platform token cannot be created (server) or found (other services)."""

    code = "token"


class PluginTaskModuleError(PluginError):
    """A worker plugin's task modules cannot be imported, or it brings its own Celery app."""


class TlsError(PeekError):
    """A TLS file (tls.certFile, tls.keyFile, peekServer.caFile) cannot be used."""

    def __init__(self, setting: str, path: Path, reason: str) -> None:
        super().__init__(f"{setting} ({path}): {reason}")
        self.setting = setting
        self.path = path
        self.reason = reason


class WorkerServiceError(PeekError):
    """The worker service cannot run (e.g. a plugin's lifecycle needs the reactor)."""


class ServiceTreeError(PeekError):
    """The services of a process cannot be put in a start order; the message names the
    tree, the children concerned and why (no name, an unknown requirement, a cycle)."""

    def __init__(self, tree: str, reason: str) -> None:
        super().__init__(f"service tree {tree}: {reason}")
        self.tree = tree
        self.reason = reason


class AdminAccountError(PeekError):
    """An admin account cannot be created or given that password; names it and says why."""

    def __init__(self, user_name: str, reason: str) -> None:
        super().__init__(f"admin account {user_name!r}: {reason}")
        self.user_name = user_name
        self.reason = reason


class PlatformStateError(PeekError):
    """A state report or an admin command (plugin control, settings) cannot be handled;
    the message names the service or plugin and why."""

    #: The error-reply code the admin RPCs answer it with (a RemoteError code).
    code: ClassVar[str] = "PlatformStateError"


class PluginUploadError(PeekError):
    """An uploaded plugin release was refused or did not install.

    ``file_name`` is the uploaded file's name, ``reason`` what was wrong with it (or what
    pip said); ``status`` is the HTTP status the admin site answers a refusal with.
    """

    def __init__(self, file_name: str, reason: str, status: int = 400) -> None:
        super().__init__(f"plugin release {file_name}: {reason}")
        self.file_name = file_name
        self.reason = reason
        self.status = status
