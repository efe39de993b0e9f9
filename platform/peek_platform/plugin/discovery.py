"""Installed plugins, found through the ``peek.plugins`` entry-point group."""

from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "peek.plugins"


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
