"""The in-memory bus: simulated services in one process, joined by the transport's own bridge."""

from peek_vortex.testing._memory_bus import (
    MemoryConnection,
    MemoryNode,
    MemoryVortex,
)

__all__ = [
    "MemoryVortex",
    "MemoryConnection",
    "MemoryNode",
]
