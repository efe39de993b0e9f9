"""The tutorial's RPCs over an in-memory bus: the seed's numbers, access checks, the insert."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peek_plugin_tutorial
import pytest
from peek_plugin_tutorial._private.rpc.RpcForAgent import RpcForAgent
from peek_plugin_tutorial._private.rpc.RpcForServer import RpcForServer
from peek_plugin_tutorial._private.server.AgentRpcHandler import AgentRpcHandler
from peek_plugin_tutorial._private.storage import DeclarativeBase
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from sqlalchemy import select

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.testing import MemoryNode, MemoryVortex
from peek_plugin_base.vortex import AccessDeniedError, RemoteError
from peek_vortex.routing import running_threads_inline
from tests.support import result_of

ALEMBIC_DIR = Path(peek_plugin_tutorial.__file__).parent / "_private" / "alembic"


class Services:
    """A server, an agent and a client on one in-memory bus, the tutorial's RPCs served."""

    def __init__(self, db: DbConnection) -> None:
        self.bus = MemoryVortex()
        self.server = self.bus.node("peek-server")
        self.agent = self.bus.node("peek-agent")
        self.client = self.bus.node("peek-client")
        self.bus.link(self.agent, self.server)
        self.bus.link(self.client, self.server)
        self.agent_online: list[str] = []
        self.rpc_for_agent = RpcForAgent(AgentRpcHandler(
            db.ormSessionCreator, lambda: self.agent_online.append("online")))
        self.handles = [
            RpcForAgent.addInts.start(funcSelf=self.rpc_for_agent, router=self.server.router),
            RpcForAgent.addStringInt.start(funcSelf=self.rpc_for_agent,
                                           router=self.server.router),
            RpcForAgent.agentOnline.start(funcSelf=self.rpc_for_agent,
                                          router=self.server.router),
            RpcForServer.subInts.start(funcSelf=RpcForServer(), router=self.agent.router),
        ]

    def shutdown(self) -> None:
        for handle in self.handles:
            handle.shutdown()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DbConnection]:
    """The tutorial's tables, migrated by its own scripts into a fresh SQLite file."""
    DeclarativeBase.loadStorageTuples()
    connection = DbConnection(f"sqlite:///{tmp_path / 'db' / 'peek.sqlite'}",
                              DeclarativeBase.metadata, str(ALEMBIC_DIR), enableCreateAll=False)
    connection.migrate()
    yield connection
    connection.closeAllSessions()


@pytest.fixture
def services(db: DbConnection) -> Iterator[Services]:
    """The services, with deferToThread RPCs run at once (no reactor runs in these tests)."""
    with running_threads_inline():
        built = Services(db)
        yield built
        built.shutdown()


def call(node: MemoryNode, remote: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``remote`` from ``node``'s process and return its (already arrived) result."""
    return result_of(remote.via(node.router)(*args, **kwargs))


def test_agent_chain_from_5_ends_at_40(services: Services) -> None:
    """The agent's example chain (five addInts of 7 from 5) ends at 40, as in the seed."""
    value = 5
    for _ in range(5):
        value = call(services.agent, RpcForAgent.addInts, value, kwval1=7)
    assert value == 40
    assert call(services.agent, RpcForAgent.addInts, 1) == 10  # kwval1 defaults to 9


def test_server_sub_ints_gives_2(services: Services) -> None:
    """The server's call subInts(7, kwval1=5) runs on the agent and returns 2."""
    assert call(services.server, RpcForServer.subInts, 7, kwval1=5) == 2


def test_only_the_agent_may_call_the_server_rpcs(services: Services) -> None:
    """acceptOnlyFromVortex: a client service calling addInts gets AccessDeniedError."""
    with pytest.raises(RemoteError) as raised:
        call(services.client, RpcForAgent.addInts, 1, kwval1=2)
    assert raised.value.code == AccessDeniedError.code
    assert "peek-client" in str(raised.value)


def test_add_string_int_inserts_a_row(services: Services, db: DbConnection) -> None:
    """addStringInt stores the agent's row and returns its id."""
    row_id = call(services.agent, RpcForAgent.addStringInt, "Created from Agent RPC", 50)
    session = db.ormSessionCreator()
    try:
        row = session.scalars(select(StringIntTuple).where(StringIntTuple.id == row_id)).one()
        assert (row.string1, row.int1) == ("Created from Agent RPC", 50)
    finally:
        session.close()


def test_agent_online_notifies_the_server(services: Services) -> None:
    """agentOnline reaches the server's callback, which is what starts its calls."""
    assert call(services.agent, RpcForAgent.agentOnline) is None
    assert services.agent_online == ["online"]


def test_a_remote_exception_arrives_with_its_type_name(services: Services) -> None:
    """An exception raised in the server's RPC reaches the agent as a RemoteError whose
    code is the exception's type name."""
    with pytest.raises(RemoteError) as raised:
        call(services.agent, RpcForAgent.addInts, "five", kwval1=7)
    assert raised.value.code == "TypeError"
