"""Installed plugins, found through the ``peek.plugins`` entry-point group."""

import difflib
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional

ENTRY_POINT_GROUP = "peek.plugins"
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
