"""What the server does for the RPCs its agent calls (declared in ``_private/rpc``)."""

from collections.abc import Callable
from typing import Any

from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple


class AgentRpcHandler:
    """The server's side of ``RpcForAgent``: the database work and the online signal."""

    def __init__(
        self, dbSessionCreator: Callable[[], Any], onAgentOnline: Callable[[], None]
    ) -> None:
        self._dbSessionCreator = dbSessionCreator
        self._onAgentOnline = onAgentOnline

    def addStringInt(self, string1: str, int1: int) -> int:
        """Insert a StringInt row and return its id (blocking: runs in a thread)."""
        session = self._dbSessionCreator()
        try:
            row = StringIntTuple(string1=string1, int1=int1)
            session.add(row)
            session.commit()
            return int(row.id)
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def agentOnline(self) -> None:
        """The agent serves its RPCs now."""
        # Not awaited: the agent's call returns at once, the server's calls follow.
        self._onAgentOnline()
