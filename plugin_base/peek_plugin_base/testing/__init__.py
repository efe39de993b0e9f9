"""Test helpers for plugin authors: an in-memory bus joining several simulated services."""

from peek_plugin_base.testing.memory_bus import MemoryBus, MemoryConnection, MemoryNode

__all__ = ["MemoryBus", "MemoryConnection", "MemoryNode"]
