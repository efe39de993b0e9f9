"""The bus names of the platform's services and device front ends (re-exported by the
plugin contract as ``peek_plugin_base.PeekVortexUtil``), and the one way a handler's
``acceptOnlyFromVortex`` names the senders it accepts."""

from collections.abc import Iterable
from typing import Optional, Union

#: The vortex name of the server service.
peekServerName = "peek-server"
#: The vortex name of client services.
peekClientName = "peek-client"
#: The vortex name of agent services.
peekAgentName = "peek-agent"
#: The vortex name of worker services.
peekWorkerName = "peek-worker"
#: The vortex name of the admin browser app.
peekAdminName = "peek-admin"
#: The vortex name of mobile devices connected to a client service.
peekMobileName = "peek-mobile"
#: The vortex name of desktop devices connected to a client service.
peekDesktopName = "peek-desktop"

#: What ``acceptOnlyFromVortex`` may be, on every handler that takes it: None (every
#: sender), one vortex name, or several.
AcceptNames = Union[None, str, Iterable[str]]


def accept_set(acceptOnlyFromVortex: AcceptNames) -> Optional[frozenset[str]]:
    """The accepted sender names as a frozenset; None accepts every sender.

    A single name is one name, not its characters (``"peek-server"`` is not a set of
    letters), which is why every handler normalises through here.
    """
    if acceptOnlyFromVortex is None:
        return None
    if isinstance(acceptOnlyFromVortex, str):
        return frozenset((acceptOnlyFromVortex,))
    return frozenset(acceptOnlyFromVortex)
