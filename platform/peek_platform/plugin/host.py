"""Loads the enabled plugins of one service and runs their lifecycle with failure isolation.

For each name in ``plugin.enabled`` the host imports the package, reads its
``plugin_package.json``, skips it when ``requiresServices`` does not name this service,
calls ``peek<Service>EntryHook()``, checks the returned class against the service's ABC and
constructs it with ``pluginName``, ``pluginRootDir`` and a per-plugin platform hook.

Plugins may list the plugins they need in ``plugin_package.json`` as ``requiresPlugins``.
The host orders plugins so every plugin comes after the plugins it requires (keeping the
``plugin.enabled`` order otherwise), loads them all, then starts them all; shutdown stops
them in reverse and then unloads them in reverse. A requirement on a plugin that does not
run on this service is ignored here (ordering only matters within one process).

A plugin that fails anywhere is logged with its name and traceback, everything it
registered is rolled back, plugins that require it are skipped with that reason, and the
others carry on. Each plugin's state and reason are kept in :attr:`PluginHost.records`.
"""

import importlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from peek_platform.errors import (
    PluginDependencyError,
    PluginError,
    PluginLoadError,
    PluginStartError,
)
from peek_platform.plugin.discovery import plugin_problem
from peek_plugin_base.PluginCommonEntryHookABC import PluginCommonEntryHookABC
from peek_plugin_base.PluginPackageFileConfig import PluginPackageFileConfig
from peek_plugin_base.registrations import RegistrationLog, registering_for

logger = logging.getLogger(__name__)

#: How long one plugin's stop() may take before shutdown moves on without it.
STOP_TIMEOUT_SECONDS = 5.0


class PluginState(StrEnum):
    """Where a plugin is in its lifecycle, as shown to admins."""

    PREPARED = "prepared"
    LOADED = "loaded"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class PluginRecord:
    """Everything the host knows about one enabled plugin."""

    name: str
    state: PluginState = PluginState.SKIPPED
    reason: Optional[str] = None
    version: Optional[str] = None
    title: Optional[str] = None
    root_dir: Optional[str] = None
    requires: list[str] = field(default_factory=list)
    #: True when requiresServices does not name this service.
    elsewhere: bool = False
    #: The parsed plugin_package.json.
    package_cfg: dict[str, Any] = field(default_factory=dict)
    hook_class: Optional[type] = None
    entry_hook: Optional[PluginCommonEntryHookABC] = None
    registrations: RegistrationLog = field(init=False)

    def __post_init__(self) -> None:
        self.registrations = RegistrationLog(self.name)

    @property
    def active(self) -> bool:
        """Loaded or running: it holds resources that shutdown must release."""
        return self.state in (PluginState.LOADED, PluginState.RUNNING)

    def as_dict(self) -> dict[str, Any]:
        """A plain summary for logs, admin pages and tests."""
        return {
            "name": self.name,
            "state": self.state.value,
            "reason": self.reason,
            "version": self.version,
            "title": self.title,
            "requires": list(self.requires),
        }


@dataclass(frozen=True)
class ServicePluginSpec:
    """What differs between services when hosting plugins."""

    #: "server", "client", "agent" or "worker".
    service: str
    #: The ABC the entry hook class must subclass.
    entry_hook_abc: type
    #: ``requiresServices`` values that mean "runs here".
    accepted_service_names: frozenset[str]
    #: Builds a plugin's platform hook from the host, its name and its registration log.
    make_platform_hook: Callable[["PluginHost", str, RegistrationLog], object]
    #: Runs before a plugin's entry hook is constructed (the server migrates the plugin's
    #: storage here); raising fails that plugin with the error as the reason.
    before_load: Optional[Callable[[PluginRecord], Awaitable[None]]] = None

    @property
    def entry_hook_function(self) -> str:
        """The module-level function a plugin defines for this service."""
        return f"peek{self.service.capitalize()}EntryHook"

    @property
    def published_api_attribute(self) -> str:
        """The entry-hook property holding the plugin's API for this service."""
        return f"published{self.service.capitalize()}Api"


async def await_result(value: Any) -> Any:
    """Wait for a plugin call's result, whether a plain value, a Deferred or a coroutine."""
    if isinstance(value, Deferred) or inspect.isawaitable(value):
        return await value
    return value


class PluginHost:
    """Runs the plugins of one service process."""

    def __init__(self, spec: ServicePluginSpec, clock: Optional[IReactorTime] = None) -> None:
        self.spec = spec
        self.records: dict[str, PluginRecord] = {}
        #: Active plugins in the order they were loaded (dependencies first).
        self._order: list[str] = []
        self._clock = clock

    # ----------------------------------------------------------------- queries

    def published_api(self, plugin_name: str) -> Optional[object]:
        """Another plugin's published API for this service, or None if it is not loaded."""
        record = self.records.get(plugin_name)
        if record is None or not record.active or record.entry_hook is None:
            return None
        return getattr(record.entry_hook, self.spec.published_api_attribute, None)

    def states(self) -> list[dict[str, Any]]:
        """Every enabled plugin's state, in ``plugin.enabled`` order."""
        return [record.as_dict() for record in self.records.values()]

    @property
    def active_names(self) -> list[str]:
        """Loaded or running plugins, in load order."""
        return list(self._order)

    # ---------------------------------------------------------------- lifecycle

    async def start_plugins(self, enabled: Iterable[str]) -> None:
        """Load, then start, every plugin in ``enabled`` that is not already active."""
        names = self._dedupe(list(enabled))
        order = self._prepare_and_order(names)
        loaded = [name for name in order if await self._load(name)]
        for name in loaded:
            await self._start(name)
        running = [r.name for r in self.records.values() if r.state is PluginState.RUNNING]
        logger.info(
            "%s service: %d plugin(s) running%s",
            self.spec.service,
            len(running),
            f": {', '.join(running)}" if running else "",
        )

    async def stop_all(self) -> None:
        """Stop every running plugin in reverse order, then unload each in reverse."""
        await self._stop_and_unload(list(self._order))

    async def apply_enabled(self, enabled: list[str]) -> None:
        """Make the running set match a new ``plugin.enabled`` (config reload).

        Plugins no longer enabled, and active plugins that require them, are stopped and
        unloaded; newly enabled plugins (and previously failed ones still listed) are
        loaded and started.
        """
        wanted = set(enabled)
        removed = {name for name in self._order if name not in wanted}
        removed |= self._active_dependants(removed)
        if removed:
            logger.info("Reload: stopping %s", ", ".join(sorted(removed)))
            await self._stop_and_unload([n for n in self._order if n in removed])
        for name in list(self.records):
            if not self.records[name].active:
                del self.records[name]
                _purge_modules(name)
        await self.start_plugins(enabled)

    # ---------------------------------------------------------------- internals

    def _dedupe(self, names: list[str]) -> list[str]:
        seen: set[str] = set()
        unique: list[str] = []
        for name in names:
            if name in seen:
                logger.error(
                    "plugin.enabled lists %s more than once; it is loaded once, "
                    "in its first position",
                    name,
                )
                continue
            seen.add(name)
            unique.append(name)
        return unique

    def _fail(self, record: PluginRecord, error: PluginError, with_traceback: bool) -> None:
        record.state = PluginState.FAILED
        record.reason = error.reason
        if with_traceback:
            logger.error("Plugin %s failed: %s", record.name, error.reason, exc_info=True)
        else:
            logger.error("Plugin %s failed: %s", record.name, error.reason)
        record.registrations.rollback()

    def _skip(self, record: PluginRecord, reason: str, level: int = logging.WARNING) -> None:
        record.state = PluginState.SKIPPED
        record.reason = reason
        logger.log(level, "Plugin %s skipped: %s", record.name, reason)
        # Whatever its import registered (tuple types, endpoints) must not outlive it here.
        record.registrations.rollback()

    def _prepare(self, name: str) -> PluginRecord:
        """Import the plugin and find its entry hook class, without constructing it."""
        record = PluginRecord(name)
        self.records[name] = record
        try:
            with registering_for(record.registrations):
                package = importlib.import_module(name)
        except Exception as e:
            _purge_modules(name)
            if isinstance(e, ModuleNotFoundError) and e.name == name:
                # Not installed: the reason (and a near-miss name) says it all.
                reason = plugin_problem(name) or f"import failed: {e!r}"
                self._fail(record, PluginLoadError(name, reason), False)
                return record
            self._fail(record, PluginLoadError(name, f"import failed: {e!r}"), True)
            return record
        package_file = getattr(package, "__file__", None)
        if not package_file:
            self._fail(record, PluginLoadError(name, "is not a regular package"), False)
            return record
        record.root_dir = str(Path(package_file).parent)
        try:
            package_cfg = PluginPackageFileConfig(record.root_dir).config
        except Exception as e:
            self._fail(record, PluginLoadError(name, str(e)), False)
            return record
        record.package_cfg = package_cfg
        problem = _describe(record, package_cfg)
        if problem:
            self._fail(record, PluginLoadError(name, problem), False)
            return record

        services = package_cfg.get("requiresServices", [])
        if not self.spec.accepted_service_names.intersection(services):
            self._skip(
                record,
                f"does not run on the {self.spec.service} service "
                f"(requiresServices: {services})",
                logging.INFO,
            )
            record.elsewhere = True
            return record

        hook_function = getattr(package, self.spec.entry_hook_function, None)
        if not callable(hook_function):
            self._fail(
                record,
                PluginLoadError(
                    name,
                    f"requiresServices names {self.spec.service} but the package has no "
                    f"{self.spec.entry_hook_function}() function",
                ),
                False,
            )
            return record
        try:
            with registering_for(record.registrations):
                hook_class = hook_function()
        except Exception as e:
            self._fail(
                record,
                PluginLoadError(name, f"{self.spec.entry_hook_function}() raised {e!r}"),
                True,
            )
            return record
        if not (
            isinstance(hook_class, type) and issubclass(hook_class, self.spec.entry_hook_abc)
        ):
            self._fail(
                record,
                PluginLoadError(
                    name,
                    f"{self.spec.entry_hook_function}() must return a subclass of "
                    f"{self.spec.entry_hook_abc.__name__}, got {hook_class!r}",
                ),
                False,
            )
            return record
        record.hook_class = hook_class
        record.state = PluginState.PREPARED
        record.reason = None
        return record

    def _prepare_and_order(self, names: list[str]) -> list[str]:
        """Prepare the not-yet-active plugins and return them in dependency order."""
        fresh = [name for name in names if name not in self._order]
        for name in fresh:
            self._prepare(name)
        candidates = [n for n in fresh if self.records[n].hook_class is not None]
        enabled = set(names)
        order: list[str] = []
        visiting: list[str] = []
        done: set[str] = set()

        def visit(name: str) -> bool:
            """Place ``name`` after its requirements; False when it cannot run."""
            record = self.records[name]
            if name in done:
                return record.state is PluginState.PREPARED
            if name in visiting:
                raise _CycleError(visiting[visiting.index(name) :] + [name])
            visiting.append(name)
            try:
                for required in record.requires:
                    if self._requirement_irrelevant(required):
                        continue
                    if required not in enabled:
                        reason = f"requires plugin {required}, which is not in plugin.enabled"
                        self._skip(record, reason)
                        return False
                    if required not in self.records or not visit(required):
                        self._skip(record, self._requirement_reason(required))
                        return False
            finally:
                visiting.pop()
            done.add(name)
            order.append(name)
            return True

        for name in candidates:
            while True:
                try:
                    visit(name)
                    break
                except _CycleError as cycle:
                    text = " -> ".join(cycle.names)
                    for member in set(cycle.names):
                        done.add(member)
                        self._fail(
                            self.records[member],
                            PluginDependencyError(member, f"dependency cycle: {text}"),
                            False,
                        )
                    if name in cycle.names:
                        break
        return order

    def _requirement_irrelevant(self, required: str) -> bool:
        """Already active here, or enabled but not for this service."""
        record = self.records.get(required)
        return required in self._order or (record is not None and record.elsewhere)

    def _requirement_reason(self, required: str) -> str:
        record = self.records.get(required)
        if record is None:
            return f"requires plugin {required}, which is not loaded"
        return f"requires plugin {required}, which {record.state.value}: {record.reason}"

    def _requirements_ready(self, record: PluginRecord, running: bool) -> bool:
        """Whether every requirement is loaded (or, with ``running``, started); else skip."""
        for required in record.requires:
            other = self.records.get(required)
            if other is None or other.elsewhere:
                continue
            ready = other.state is PluginState.RUNNING if running else other.active
            if not ready:
                self._skip(record, self._requirement_reason(required))
                return False
        return True

    async def _load(self, name: str) -> bool:
        record = self.records[name]
        if not self._requirements_ready(record, running=False):
            return False
        assert record.hook_class is not None and record.root_dir is not None
        if self.spec.before_load is not None:
            try:
                await self.spec.before_load(record)
            except PluginError as e:
                # Already names the plugin and the problem; a traceback would add nothing.
                self._fail(record, e, False)
                return False
            except Exception as e:
                self._fail(record, PluginLoadError(name, f"{e}"), True)
                return False
        try:
            with registering_for(record.registrations):
                platform = self.spec.make_platform_hook(self, name, record.registrations)
                hook = record.hook_class(
                    pluginName=name, pluginRootDir=record.root_dir, platform=platform
                )
                result = hook.load()
                if isinstance(result, Deferred) or inspect.isawaitable(result):
                    raise TypeError("load() must finish synchronously; do async work in start()")
        except Exception as e:
            self._fail(record, PluginLoadError(name, f"load() raised {e!r}"), True)
            return False
        record.entry_hook = hook
        record.state = PluginState.LOADED
        self._order.append(name)
        logger.info("Plugin %s loaded (version %s)", name, record.version)
        return True

    async def _start(self, name: str) -> None:
        record = self.records[name]
        if not self._requirements_ready(record, running=True):
            await self._unload(record)
            return
        assert record.entry_hook is not None
        try:
            with registering_for(record.registrations):
                await await_result(record.entry_hook.start())
        except Exception as e:
            self._fail(record, PluginStartError(name, f"start() failed: {e!r}"), True)
            await self._unload(record, state=PluginState.FAILED)
            return
        record.state = PluginState.RUNNING
        logger.info("Plugin %s started", name)

    async def _stop_and_unload(self, names: list[str]) -> None:
        for name in reversed(names):
            record = self.records[name]
            if record.state is PluginState.RUNNING and record.entry_hook is not None:
                await self._stop(record)
        for name in reversed(names):
            await self._unload(self.records[name])

    async def _stop(self, record: PluginRecord) -> None:
        assert record.entry_hook is not None
        try:
            result = record.entry_hook.stop()
            if inspect.iscoroutine(result):
                result = Deferred.fromCoroutine(result)
            if self._clock is not None and isinstance(result, Deferred):
                result.addTimeout(STOP_TIMEOUT_SECONDS, self._clock)
            await await_result(result)
        except Exception:
            logger.exception("Plugin %s: stop() failed; unloading it anyway", record.name)
        record.state = PluginState.STOPPED
        logger.info("Plugin %s stopped", record.name)

    async def _unload(
        self, record: PluginRecord, state: Optional[PluginState] = None
    ) -> None:
        """Unload an active plugin; keeps ``state`` (FAILED/SKIPPED) if it is not active."""
        if record.name in self._order:
            self._order.remove(record.name)
            if record.entry_hook is not None:
                try:
                    await await_result(record.entry_hook.unload())
                except Exception:
                    logger.exception("Plugin %s: unload() failed", record.name)
            logger.info("Plugin %s unloaded", record.name)
        record.registrations.rollback()
        record.entry_hook = None
        if record.active:
            record.state = PluginState.STOPPED
        if state is not None:
            record.state = state

    def _active_dependants(self, names: set[str]) -> set[str]:
        """Active plugins that require any of ``names``, directly or not."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name in self._order:
                if name in found or name in names:
                    continue
                if set(self.records[name].requires) & (names | found):
                    found.add(name)
                    changed = True
        return found


class _CycleError(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__(" -> ".join(names))
        self.names = names


def _describe(record: PluginRecord, package_cfg: dict[str, Any]) -> Optional[str]:
    """Fill the record from plugin_package.json; return a problem, or None if it is usable."""
    plugin = package_cfg.get("plugin", {})
    if not isinstance(plugin, dict):
        return 'plugin_package.json: "plugin" must be an object'
    record.version = str(plugin.get("version", "unknown"))
    record.title = str(plugin.get("title", record.name))
    services = package_cfg.get("requiresServices", [])
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        return 'plugin_package.json: "requiresServices" must be a list of service names'
    requires = package_cfg.get("requiresPlugins", [])
    if not isinstance(requires, list) or not all(isinstance(s, str) for s in requires):
        return 'plugin_package.json: "requiresPlugins" must be a list of plugin names'
    record.requires = list(requires)
    return None


def _purge_modules(package: str) -> None:
    """Forget a plugin's modules so a later load imports fresh code."""
    for module_name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module_name]
