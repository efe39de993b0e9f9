"""Installed plugins, found through the ``peek.plugins`` entry-point group, and what their
``plugin_package.json`` declares, read without importing them."""

import difflib
import importlib.util
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Optional

from peek_plugin_base.PluginPackageFileConfig import PluginPackageFileConfig

ENTRY_POINT_GROUP = "peek.plugins"
#: The plugin_package.json key a plugin sets to true when it needs the asyncio reactor.
ASYNCIO_KEY = "asyncio"
#: How alike (difflib ratio) a name must be to a known one to be taken for a typo of it.
NEAR_MISS_RATIO = 0.8


def installed_plugins() -> dict[str, str]:
    """Map each installed plugin's package name to its distribution's version.

    A plugin distribution declares ``peek.plugins`` entry points named after its root
    package (``peek_plugin_x = peek_plugin_x``). Only the names in a service's
    ``plugin.enabled`` are loaded; this list is for admins and tooling.
    """
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        version = ep.dist.version if ep.dist is not None else "unknown"
        found[ep.value.split(":")[0]] = version
    return dict(sorted(found.items()))


def plugin_problem(name: str) -> Optional[str]:
    """Why ``name`` cannot be loaded as a plugin, found without importing it; None if it can.

    A plugin is an importable package holding a ``plugin_package.json``.
    """
    if not all(part.isidentifier() for part in name.split(".")):
        return f"{name!r} is not a Python package name"
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as e:
        spec, error = None, f" ({e})"
    else:
        error = ""
    if spec is None:
        close = difflib.get_close_matches(name, installed_plugins(), 1, NEAR_MISS_RATIO)
        hint = f"; did you mean {close[0]}?" if close else (
            "; pip install it into this environment or remove it from plugin.enabled")
        return f"{name} is not installed (no importable package of that name{error}){hint}"
    locations = list(spec.submodule_search_locations or ())
    if not locations:
        return f"{name} is a module, not a plugin package (a plugin is a package with a " \
               "plugin_package.json)"
    if not any((Path(location) / "plugin_package.json").is_file() for location in locations):
        return (f"{name} is not a Peek plugin: its package {locations[0]} has no "
                "plugin_package.json")
    return None


def runs_on(service: str) -> frozenset[str]:
    """The ``requiresServices`` values that mean a plugin runs on ``service`` (the server
    also runs the plugins that only declare ``storage``)."""
    return frozenset({"server", "storage"}) if service == "server" else frozenset({service})


def asyncio_problem(package_cfg: dict[str, Any]) -> Optional[str]:
    """Why a parsed plugin_package.json's ``asyncio`` declaration is unusable; None if fine."""
    value = package_cfg.get(ASYNCIO_KEY, False)
    if not isinstance(value, bool):
        return (f'plugin_package.json: "{ASYNCIO_KEY}" must be true or false, '
                f"got {value!r}")
    return None


def declared_package_json(name: str) -> Optional[dict[str, Any]]:
    """The parsed plugin_package.json of installed plugin ``name``, found without running
    any of its code; None when it is not an installed top-level plugin package or its
    file is unreadable (loading the plugin then reports why).

    ``importlib.util.find_spec`` of a top-level package locates it without executing it;
    a dotted name would import its parent, so only top-level names are read.
    """
    if "." in name or not name.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or ()) if spec else ():
        try:
            return PluginPackageFileConfig(location).config
        except Exception:
            continue
    return None


def asyncio_declarations(service: str, enabled: Iterable[str]
                         ) -> tuple[list[str], list[tuple[str, str]]]:
    """The enabled plugins running on ``service`` that declare ``"asyncio": true``, and
    (name, problem) for those whose declaration is not a boolean; read without importing
    them. Plugins not installed, unreadable or running elsewhere are left out."""
    here = runs_on(service)
    needing: list[str] = []
    bad: list[tuple[str, str]] = []
    for name in enabled:
        package_cfg = declared_package_json(name)
        if package_cfg is None:
            continue
        services = package_cfg.get("requiresServices", [])
        if not isinstance(services, list) or not here.intersection(services):
            continue
        problem = asyncio_problem(package_cfg)
        if problem:
            bad.append((name, problem))
        elif package_cfg.get(ASYNCIO_KEY, False):
            needing.append(name)
    return needing, bad
