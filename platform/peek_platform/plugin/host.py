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

While the service runs, :meth:`PluginHost.reload_plugin`, :meth:`PluginHost.enable_plugin`,
:meth:`PluginHost.disable_plugin` and :meth:`PluginHost.apply_enabled` (SIGHUP) change one
plugin (and the plugins that require it) through one path: close its gate (HTTP 503, bus
``PluginReloadingError``) and let running HTTP requests finish → stop → unload → purge its
modules → refresh the import system (new ``.pth`` files of ``pip install -e``) → migrate
(the server's ``before_load``) → load → start → open the gate.
"""

import importlib
import inspect
import logging
import os
import site
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Optional

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IReactorTime

from peek_platform.errors import (
    ConfigError,
    PluginControlError,
    PluginDependencyError,
    PluginError,
    PluginLoadError,
    PluginStartError,
)
from peek_platform.plugin.discovery import ASYNCIO_KEY, asyncio_problem, plugin_problem
from peek_platform.plugin.gate import PluginGate
from peek_plugin_base.PluginCommonEntryHookABC import PluginCommonEntryHookABC
from peek_plugin_base.PluginPackageFileConfig import PluginPackageFileConfig
from peek_vortex import OwnershipScope, as_deferred, owned_by
from peek_vortex.routing import PayloadEndpoint, PayloadRouter, default_router

logger = logging.getLogger(__name__)

#: Told about every plugin state change (the platform's event source sets it).
state_listener: Optional[Callable[["PluginRecord"], None]] = None

#: How long one plugin's stop() may take before shutdown moves on without it.
STOP_TIMEOUT_SECONDS = 5.0
#: How long a reload waits for HTTP requests already inside the plugin before stopping it.
DRAIN_TIMEOUT_SECONDS = 10.0

#: Changes ``plugin.enabled`` in the service's config.json (re-read, edited by the given
#: function, validated, written atomically) and returns the list written. The runner
#: injects :meth:`peek_platform.config.ServiceConfig.edit_plugin_enabled`; the host never
#: knows file paths.
EnabledEditor = Callable[[Callable[[list[str]], list[str]]], list[str]]


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
    #: The traceback of the last failure, when it came from an exception.
    traceback: Optional[str] = None
    #: How long the last load() and start() took, in seconds.
    load_seconds: Optional[float] = None
    start_seconds: Optional[float] = None
    #: The installed code as it was imported (folder, version, newest file): SIGHUP
    #: reloads a plugin whose stamp on disk differs.
    source_stamp: Optional[tuple[str, str, int, int]] = None
    registrations: OwnershipScope = field(init=False)

    def __post_init__(self) -> None:
        self.registrations = OwnershipScope(self.name)

    def __setattr__(self, attribute: str, value: Any) -> None:
        # Every state change, wherever the host makes it, is a platform event.
        changed = attribute == "state" and getattr(self, "state", None) is not value
        super().__setattr__(attribute, value)
        if changed and state_listener is not None:
            state_listener(self)

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
    make_platform_hook: Callable[["PluginHost", str, OwnershipScope], object]
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
    """Wait for a plugin call's result, whether a plain value, a Deferred or a coroutine.

    Coroutines run as asyncio Tasks on the asyncio reactor (:mod:`peek_plugin_base.aio`),
    so plugins' ``async def start()`` may use asyncio.
    """
    if isinstance(value, Deferred) or inspect.isawaitable(value):
        return await as_deferred(value)
    return value


class PluginHost:
    """Runs the plugins of one service process."""

    def __init__(
        self,
        spec: ServicePluginSpec,
        clock: Optional[IReactorTime] = None,
        router: Optional[PayloadRouter] = None,
    ) -> None:
        self.spec = spec
        self.records: dict[str, PluginRecord] = {}
        #: Active plugins in the order they were loaded (dependencies first).
        self._order: list[str] = []
        self._clock = clock
        self._router = router
        #: Plugins between stop and start, and HTTP requests inside each (sites read it).
        self.gate = PluginGate()
        #: Persists plugin.enabled changes; None (tests, the harness): in memory only.
        self.edit_enabled: Optional[EnabledEditor] = None
        #: The service's plugin.enabled as the host last applied it.
        self._enabled: list[str] = []
        # Reload, enable, disable and SIGHUP change the running set one at a time.
        self._lock = DeferredLock()
        # .pth files already processed (at interpreter start, or by a refresh): mtimes.
        self._pth_seen: dict[str, int] = {path: mtime for path, mtime in _pth_files()}

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
        self._enabled += [name for name in names if name not in self._enabled]
        await self._bring_up(names)

    async def stop_all(self) -> None:
        """Stop every running plugin in reverse order, then unload each in reverse."""
        await self._stop_and_unload(list(self._order))

    async def apply_enabled(self, enabled: list[str]) -> None:
        """Make the running set match a new ``plugin.enabled`` (SIGHUP).

        Plugins no longer enabled are stopped and unloaded; plugins whose installed code
        changed since they were imported are reloaded; newly enabled plugins (and failed
        ones still listed) are loaded and started. Active plugins that require a removed
        or changed plugin are stopped first and started again after it.
        """
        await self._exclusively(lambda: self._apply(enabled))

    async def reload_plugin(self, name: str) -> None:
        """Stop, unload, re-import, migrate, load and start one enabled plugin.

        Plugins that require it are stopped before it and started again after it. Raises
        PluginControlError when it is not enabled here or does not run again (its state
        then shows ``failed`` with the reason; the other plugins keep running).
        """
        await self._exclusively(lambda: self._reload(name))

    async def enable_plugin(self, name: str) -> None:
        """Add ``name`` to plugin.enabled in config.json, then load and start it.

        An installed plugin ``pip install``-ed after the service started is found. Raises
        PluginControlError when it is not an installed plugin (config.json unchanged),
        config.json cannot be written, or it does not start (it stays enabled, showing
        ``failed`` with the reason, so :meth:`reload_plugin` can retry it once fixed).
        """
        await self._exclusively(lambda: self._enable(name))

    async def disable_plugin(self, name: str) -> None:
        """Stop and unload ``name`` and remove it from plugin.enabled in config.json.

        Active plugins that require it are stopped too and shown ``skipped`` with the
        reason (they stay enabled). Raises PluginControlError when it is not enabled or
        config.json cannot be written (then nothing was stopped).
        """
        await self._exclusively(lambda: self._disable(name))

    # ------------------------------------------------------------ control paths

    async def _exclusively(self, work: Callable[[], Awaitable[None]]) -> None:
        await self._lock.acquire()
        try:
            await work()
        finally:
            self._lock.release()

    async def _apply(self, enabled: list[str]) -> None:
        enabled = self._dedupe(list(enabled))
        wanted = set(enabled)
        self.refresh_imports()
        removed = {name for name in self._order if name not in wanted}
        changed = {name for name in self._order if name in wanted and self._changed(name)}
        down = removed | changed
        down |= self._active_dependants(down)
        if removed:
            logger.info("Reload: stopping %s (no longer enabled)", ", ".join(sorted(removed)))
        if changed:
            logger.info("Reload: %s changed on disk; reloading", ", ".join(sorted(changed)))
        group = [name for name in self._order if name in down]
        await self._take_down(group, "reloading")
        try:
            for name in list(self.records):
                if not self.records[name].active:
                    if name not in wanted:
                        del self.records[name]
                    _purge_modules(name)
            self._enabled = enabled
            await self._bring_up(enabled)
        finally:
            self._reopen(group)
        # Keep plugin.enabled order for admins even when the file reordered names.
        self.records = {n: self.records[n] for n in enabled if n in self.records}
        for name in sorted(changed):
            if self.records[name].state is PluginState.RUNNING:
                logger.info("Plugin %s reloaded (version %s)", name, self.records[name].version)

    async def _reload(self, name: str) -> None:
        record = self.records.get(name)
        if record is None or name not in self._enabled:
            raise PluginControlError(
                name, f"is not in plugin.enabled of the {self.spec.service} service; "
                "enable it first")
        dependants = self._active_dependants({name})
        group = [n for n in self._order if n == name or n in dependants]
        # Plugins skipped because this one had failed get their chance with it.
        waiting = self._waiting_on(name)
        logger.info("Reloading plugin %s%s", name,
                    f" (and its dependants {', '.join(group[1:])})" if len(group) > 1 else "")
        await self._take_down(group, "reloading")
        try:
            for member in {name, *group, *waiting}:
                _purge_modules(member)
            self.refresh_imports()
            again = {name, *dependants, *waiting}
            await self._bring_up([n for n in self._enabled if n in again])
        finally:
            self._reopen(group)
        record = self.records[name]
        if record.state is not PluginState.RUNNING:
            raise PluginControlError(
                name, f"reload failed; it is {record.state.value}: {record.reason}")
        logger.info("Plugin %s reloaded (version %s)", name, record.version)

    async def _enable(self, name: str) -> None:
        record = self.records.get(name)
        if name in self._enabled and record is not None and record.active:
            logger.info("Plugin %s is already enabled and %s", name, record.state.value)
            return
        self.refresh_imports()
        problem = plugin_problem(name)
        if problem:
            raise PluginControlError(name, problem)
        self._write_enabled(name, lambda names: names if name in names else [*names, name])
        if name not in self._enabled:
            self._enabled.append(name)
        _purge_modules(name)
        logger.info("Enabling plugin %s", name)
        await self._bring_up([name])
        record = self.records[name]
        if record.state is not PluginState.RUNNING:
            raise PluginControlError(
                name, f"enabled, but it is {record.state.value}: {record.reason}")

    async def _disable(self, name: str) -> None:
        if name not in self._enabled:
            raise PluginControlError(
                name, f"is not in plugin.enabled of the {self.spec.service} service")
        self._write_enabled(name, lambda names: [n for n in names if n != name])
        self._enabled.remove(name)
        dependants = self._active_dependants({name})
        group = [n for n in self._order if n == name or n in dependants]
        logger.info("Disabling plugin %s", name)
        await self._take_down(group, "being disabled")
        try:
            for member in {name, *group}:
                _purge_modules(member)
            self.records.pop(name, None)
            for dependant in dependants:
                self._skip(self.records[dependant],
                           f"requires plugin {name}, which was disabled")
        finally:
            self._reopen(group)
        logger.info("Plugin %s disabled", name)

    def _write_enabled(self, name: str, change: Callable[[list[str]], list[str]]) -> None:
        if self.edit_enabled is None:
            return
        try:
            self.edit_enabled(change)
        except (ConfigError, OSError) as e:
            raise PluginControlError(name, f"config.json not changed: {e}") from e

    async def _take_down(self, names: list[str], reason: str) -> None:
        """Close the gates of ``names``, let running HTTP requests finish, stop, unload."""
        router = self._router or default_router()
        for name in names:
            self.gate.close(name, reason)
            endpoints = [owner for owner in self.records[name].registrations.undo_owners()
                         if isinstance(owner, PayloadEndpoint)]
            router.hold_endpoints(endpoints, name, reason)
        for name in names:
            left = await self.gate.drain(name, DRAIN_TIMEOUT_SECONDS, self._clock)
            if left:
                logger.warning(
                    "Plugin %s: %d HTTP request(s) still running after %g s; stopping it "
                    "anyway (their clients may see the connection end)",
                    name, left, DRAIN_TIMEOUT_SECONDS)
        await self._stop_and_unload([n for n in self._order if n in names])

    def _reopen(self, names: list[str]) -> None:
        router = self._router or default_router()
        for name in names:
            self.gate.open(name)
            dropped = router.release_held(name)
            if dropped:
                logger.warning(
                    "Plugin %s: %d one-way bus message(s) arrived while it was stopped for "
                    "a reload and were not delivered (they ask no reply to carry an error)",
                    name, dropped)

    def refresh_imports(self) -> None:
        """Make packages installed since the service started importable.

        Clears the import system's caches (new folders and distributions, entry points)
        and processes ``.pth`` files that are new or changed in the site folders: how
        ``pip install -e`` (a path line, or an ``import`` of its editable finder) and
        ``pip install`` into a new folder make a package importable.
        """
        importlib.invalidate_caches()
        for path, mtime in _pth_files():
            if self._pth_seen.get(path) == mtime:
                continue
            self._pth_seen[path] = mtime
            folder, file_name = os.path.split(path)
            logger.info("Processing %s (installed since the last refresh)", path)
            try:
                site.addpackage(folder, file_name, set(sys.path))  # type: ignore[attr-defined]
            except Exception:
                logger.exception("Could not process %s", path)
        importlib.invalidate_caches()

    def _changed(self, name: str) -> bool:
        """Whether the installed code of active plugin ``name`` differs from what runs."""
        record = self.records[name]
        if record.source_stamp is None:
            return False
        root = _find_package_dir(name)
        return root is None or _source_stamp(root) != record.source_stamp

    # ---------------------------------------------------------------- internals

    async def _bring_up(self, names: list[str]) -> None:
        """Prepare, order, load and start ``names`` (those not active); log who runs."""
        order = self._prepare_and_order(names, set(self._enabled) | set(names))
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
        record.reason = error.reason  # first: the state change event carries it
        record.state = PluginState.FAILED
        # Called from except blocks: the admin pages show the traceback with the reason.
        record.traceback = traceback.format_exc() if with_traceback else None
        if with_traceback:
            logger.error("Plugin %s failed: %s", record.name, error.reason, exc_info=True)
        else:
            logger.error("Plugin %s failed: %s", record.name, error.reason)
        record.registrations.rollback()

    def _skip(self, record: PluginRecord, reason: str, level: int = logging.WARNING) -> None:
        record.reason = reason  # first: the state change event carries it
        record.state = PluginState.SKIPPED
        logger.log(level, "Plugin %s skipped: %s", record.name, reason)
        # Whatever its import registered (tuple types, endpoints) must not outlive it here.
        record.registrations.rollback()

    def _prepare(self, name: str) -> PluginRecord:
        """Import the plugin and find its entry hook class, without constructing it."""
        record = PluginRecord(name)
        self.records[name] = record
        try:
            with owned_by(record.registrations):
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
        record.source_stamp = _source_stamp(record.root_dir)
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

        # Here, not at the top: peek_platform.service imports this module.
        from peek_platform.service.reactor import NEEDS_ASYNCIO_REASON, planned_reactor

        if package_cfg.get(ASYNCIO_KEY, False) and planned_reactor() == "default":
            self._fail(record, PluginLoadError(name, NEEDS_ASYNCIO_REASON), False)
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
            with owned_by(record.registrations):
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
        record.reason = None
        record.traceback = None
        record.state = PluginState.PREPARED
        return record

    def _prepare_and_order(self, names: list[str], enabled: set[str]) -> list[str]:
        """Prepare the not-yet-active ``names`` and return them in dependency order
        (``enabled``: every plugin.enabled name, for requirements outside ``names``)."""
        fresh = [name for name in names if name not in self._order]
        for name in fresh:
            self._prepare(name)
        candidates = [n for n in fresh if self.records[n].hook_class is not None]
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
                    if required not in candidates or not visit(required):
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
        began = time.monotonic()
        try:
            with owned_by(record.registrations):
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
        record.load_seconds = time.monotonic() - began
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
        began = time.monotonic()
        try:
            with owned_by(record.registrations):
                await await_result(record.entry_hook.start())
        except Exception as e:
            self._fail(record, PluginStartError(name, f"start() failed: {e!r}"), True)
            await self._unload(record, state=PluginState.FAILED)
            return
        record.start_seconds = time.monotonic() - began
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
                result = as_deferred(result)
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

    def _waiting_on(self, name: str) -> set[str]:
        """Enabled plugins not running because they require ``name``, directly or not."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for other, record in self.records.items():
                if other in found or other == name or record.active or record.elsewhere:
                    continue
                if set(record.requires) & ({name} | found):
                    found.add(other)
                    changed = True
        return found

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
    return asyncio_problem(package_cfg)


def _purge_modules(package: str) -> None:
    """Forget a plugin's modules so a later load imports fresh code."""
    for module_name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module_name]


def _site_folders() -> list[str]:
    """The folders whose ``.pth`` files the interpreter processed at start: the
    environment's site folders, the user's, and site folders added by a ``.pth``
    (``site.addsitedir``, as a virtualenv layered on another does)."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    for entry in sys.path:
        if os.path.basename(entry) in ("site-packages", "dist-packages") and entry not in folders:
            folders.append(entry)
    return folders


def _pth_files() -> list[tuple[str, int]]:
    """Every ``.pth`` file in the site folders, with its modification time."""
    found: list[tuple[str, int]] = []
    for folder in _site_folders():
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for file_name in names:
            if file_name.endswith(".pth"):
                path = os.path.join(folder, file_name)
                try:
                    found.append((path, os.stat(path).st_mtime_ns))
                except OSError:
                    continue
    return found


def _find_package_dir(name: str) -> Optional[str]:
    """Where the import system would find package ``name`` now, ignoring sys.modules."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            spec = find_spec(name, None)
        except Exception:
            continue
        if spec is not None:
            locations = list(spec.submodule_search_locations or ())
            return locations[0] if locations else None
    return None


#: Folders never part of a plugin's Python code.
_NOT_SOURCE = frozenset({"__pycache__", "node_modules", ".git"})


def _source_stamp(root_dir: str) -> tuple[str, str, int, int]:
    """(folder, plugin_package.json version, newest .py/.json mtime, file count)."""
    newest = 0
    count = 0
    for folder, dirs, files in os.walk(root_dir):
        dirs[:] = [d for d in dirs if d not in _NOT_SOURCE and not d.startswith(".")]
        for file_name in files:
            if file_name.endswith((".py", ".json")):
                try:
                    newest = max(newest, os.stat(os.path.join(folder, file_name)).st_mtime_ns)
                except OSError:
                    continue
                count += 1
    try:
        version = str(PluginPackageFileConfig(root_dir).config.get("plugin", {}).get("version"))
    except Exception:
        version = "unreadable"
    return os.path.realpath(root_dir), version, newest, count
