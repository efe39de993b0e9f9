"""What ``--check-config`` and a start find in a config.json beyond invalid values.

Unknown keys are kept (the README promises it), so an unknown key is a warning at start;
but one that is a near-miss of a setting (``logging.levle``) means the intended setting
silently takes its default, so ``--check-config`` counts it as a problem (exit 78) and names
the setting meant. Plugins in ``plugin.enabled`` are checked without importing them: the
package must be importable and hold a ``plugin_package.json``, and be listed once.
"""

import difflib
from pathlib import Path
from typing import Any, NamedTuple, Optional

from peek_platform.config import SERVICES, SETTINGS, ServiceConfig, read_json_object, settings_for
from peek_platform.errors import ConfigError, ConfigValidationError
from peek_platform.plugin.discovery import (
    NEAR_MISS_RATIO,
    asyncio_declarations,
    plugin_problem,
)


class UnknownKey(NamedTuple):
    """A key of config.json that the service does not read."""

    key: str
    #: The setting it is probably a typo of, or None.
    meant: Optional[str]
    #: Services that do read it (a key copied from another service's file).
    read_by: tuple[str, ...]

    def describe(self, service: str) -> str:
        """One line saying what the key is and what was probably meant."""
        if self.read_by:
            return (f"{self.key} is not read by the {service} service (the "
                    f"{', '.join(self.read_by)} service(s) read it); kept as is")
        text = f"{self.key} is not a setting of the {service} service"
        if self.meant:
            return f"{text}; did you mean {self.meant}? ({self.meant} takes its default)"
        return f"{text}; kept as is (the platform does not read it)"


def unknown_keys(service: str, data: dict[str, Any]) -> list[UnknownKey]:
    """The keys of ``data`` the service does not read, outermost first, in file order."""
    keys = {s.key for s in settings_for(service)}
    containers = {k.rsplit(".", i)[0] for k in keys for i in range(1, k.count(".") + 1)}
    # Keys and objects of settings other services read (a key copied from their file).
    others: dict[str, set[str]] = {}
    for setting in SETTINGS:
        parts = setting.key.split(".")
        for depth in range(1, len(parts) + 1):
            others.setdefault(".".join(parts[:depth]), set()).update(setting.services)
    # Lower-cased, so a key differing in case only is found too.
    candidates = {k.lower(): k for k in sorted(keys | containers)}
    found: list[UnknownKey] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, value in node.items():
            path = f"{prefix}{name}"
            if path in keys:
                continue  # a setting's value is the setting's, whatever its shape
            if path in containers:
                if isinstance(value, dict):
                    walk(value, f"{path}.")
                continue  # a non-object container is an invalid value, reported as such
            read_by = tuple(sorted(others.get(path, ()), key=SERVICES.index))
            close = difflib.get_close_matches(path.lower(), candidates, 1, NEAR_MISS_RATIO)
            meant = candidates[close[0]] if close and not read_by else None
            found.append(UnknownKey(path, meant, read_by))

    walk(data, "")
    return found


def plugin_list_problems(enabled: list[str]) -> list[str]:
    """Every problem of the names in ``plugin.enabled``: unusable names and repeats."""
    problems: list[str] = []
    seen: set[str] = set()
    for name in enabled:
        if name in seen:
            problems.append(f"plugin.enabled lists {name} more than once")
            continue
        seen.add(name)
        problem = plugin_problem(name)
        if problem:
            problems.append(f"plugin.enabled: {problem}")
    return problems


def reactor_problems(service: str, data: dict[str, Any], enabled: list[str]) -> list[str]:
    """Plugins whose ``"asyncio"`` declaration is not a boolean, and plugins declaring
    asyncio on a service whose ``twisted.reactor`` forces the default reactor."""
    needing, bad = asyncio_declarations(service, enabled)
    problems = [f"plugin.enabled: {name}: {problem}" for name, problem in bad]
    twisted = data.get("twisted")
    if isinstance(twisted, dict) and twisted.get("reactor") == "default":
        problems += [f'plugin.enabled: {name} declares "asyncio": true but twisted.reactor '
                     'is "default"; it would fail to load (set twisted.reactor to asyncio '
                     "or auto)" for name in needing]
    return problems


def plugin_params_problems(params: dict[str, Any], enabled: list[str],
                           ) -> list[tuple[str, bool]]:
    """Entries of ``plugin.params`` for plugins not in ``plugin.enabled``: an error when the
    name is a near-miss of an enabled plugin (its parameters silently go unused), else a
    warning. Returns (message, is_error) pairs."""
    found: list[tuple[str, bool]] = []
    for name in params:
        if name in enabled:
            continue
        close = difflib.get_close_matches(name, enabled, 1, NEAR_MISS_RATIO)
        if close:
            found.append((f"plugin.params.{name} names no enabled plugin; did you mean "
                          f"{close[0]}? (its parameters are unused)", True))
        else:
            found.append((f"plugin.params.{name}: {name} is not in plugin.enabled; its "
                          "parameters are unused", False))
    return found


def check_config(service: str, home: Path, server_home: Optional[Path] = None,
                 ) -> tuple[ServiceConfig, list[str]]:
    """``--check-config``: the validated config and its warnings, writing nothing.

    Raises ConfigError when the file is missing or cannot be parsed, and one
    ConfigValidationError listing every problem: invalid values, near-miss keys, plugins
    that are not installed or not plugins, repeated plugins.
    """
    path = home / ServiceConfig.FILE_NAME
    if not path.exists():
        raise ConfigError(
            path, "does not exist (a start would create it with every default); check "
            "--home and the home's environment variable")
    problems: list[str] = []
    config: Optional[ServiceConfig] = None
    try:
        config = ServiceConfig.load(service, home, write_defaults=False,
                                    server_home=server_home)
    except ConfigValidationError as e:
        problems.extend(e.problems)
    data = config.data if config is not None else read_json_object(path)
    if not isinstance(data, dict):
        data = {}
    warnings: list[str] = []
    for unknown in unknown_keys(service, data):
        (problems if unknown.meant else warnings).append(unknown.describe(service))
    enabled = data.get("plugin", {}).get("enabled") if isinstance(data.get("plugin"),
                                                                   dict) else None
    if isinstance(enabled, list) and all(isinstance(n, str) for n in enabled):
        problems.extend(plugin_list_problems(enabled))
        problems.extend(reactor_problems(service, data, enabled))
        params = data.get("plugin", {}).get("params")
        if isinstance(params, dict):
            for problem, is_error in plugin_params_problems(params, enabled):
                (problems if is_error else warnings).append(problem)
    if problems:
        raise ConfigValidationError(path, problems)
    assert config is not None
    return config, warnings

