"""Well-known vortex (bus) names of the platform's services and device front ends."""

from peek_vortex.routing import (
    peekAdminName,
    peekAgentName,
    peekClientName,
    peekDesktopName,
    peekMobileName,
    peekServerName,
    peekWorkerName,
)

__all__ = [
    "peekAdminName", "peekAgentName", "peekClientName", "peekDesktopName", "peekMobileName",
    "peekServerName", "peekWorkerName",
]
