"""The tutorial's private tuples; ``loadPrivateTuples`` registers them with the bus."""

import importlib

from peek_plugin_base.vortex import filterModules


def loadPrivateTuples() -> None:
    """Import every tuple module here, so the bus can decode these types.

    Each entry hook calls this from ``load()``, so the registrations belong to the plugin
    and are undone when it unloads.
    """
    for module in filterModules(__name__, __file__):
        importlib.import_module(module)
