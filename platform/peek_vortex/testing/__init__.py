"""The in-memory bus: several simulated services in one process, joined without sockets."""

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
