"""Test helpers for plugin authors: an in-memory bus joining several simulated services, and
a harness running a plugin's entry hooks on them with a temporary database."""

from peek_plugin_base.testing.harness import (
    PluginTestHarness,
    PluginTestHarnessError,
)
from peek_vortex.testing import MemoryConnection, MemoryNode, MemoryVortex

__all__ = [
    "MemoryVortex", "MemoryConnection", "MemoryNode", "PluginTestHarness", "PluginTestHarnessError",
]
