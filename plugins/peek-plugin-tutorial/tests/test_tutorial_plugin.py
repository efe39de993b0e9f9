"""The tutorial plugin on all four services in one process, driven by PluginTestHarness."""

from collections.abc import Iterator

import pytest
from peek_plugin_tutorial._private.PluginNames import (
    tutorialActionProcessorName,
    tutorialFilt,
    tutorialObservableName,
)
from peek_plugin_tutorial._private.rpc.RpcForAgent import RpcForAgent
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from peek_plugin_tutorial._private.tuples.AddIntValueActionTuple import AddIntValueActionTuple
from peek_plugin_tutorial._private.tuples.StringIntTotalTuple import StringIntTotalTuple
from peek_plugin_tutorial.server.TutorialApiABC import TutorialApiABC

from peek_plugin_base.testing import PluginTestHarness
from peek_plugin_base.vortex import RemoteError, TupleSelector


@pytest.fixture
def harness() -> Iterator[PluginTestHarness]:
    """The tutorial running on a server, client, agent and worker with a fresh SQLite db."""
    with PluginTestHarness("peek_plugin_tutorial") as running:
        yield running


def values(tuples: list[StringIntTuple]) -> list[tuple[str, int]]:
    return [(t.string1, t.int1) for t in tuples]


def test_a_device_sees_the_agents_row_and_changes_it(harness: PluginTestHarness) -> None:
    """A device observing through the client's proxy sees a row the agent inserted by RPC,
    and its action (proxied by the client) changes the row it observes."""
    device = harness.device()
    seen = harness.observe(tutorialObservableName, TupleSelector(StringIntTuple.tupleName(), {}),
                           tutorialFilt, node=device)
    assert seen.tuples == []

    row_id = harness.callRpc(RpcForAgent.addStringInt, "from the agent", 5, node="agent")
    harness.pushAction(AddIntValueActionTuple(stringIntId=row_id, offset=3),
                       tutorialActionProcessorName, tutorialFilt, node=device)
    assert values(seen.tuples) == [("from the agent", 8)]


def test_the_total_comes_from_the_worker_task(harness: PluginTestHarness) -> None:
    """The total observable's provider queues a worker task, which runs eagerly in the
    harness against the migrated database."""
    harness.callRpc(RpcForAgent.addStringInt, "a", 4, node="agent")
    harness.callRpc(RpcForAgent.addStringInt, "b", 6, node="agent")
    seen = harness.observe(tutorialObservableName,
                           TupleSelector(StringIntTotalTuple.tupleName(), {}),
                           tutorialFilt, node=harness.device())
    assert [(t.total, t.rowCount) for t in seen.tuples] == [(10, 2)]


def test_only_the_agent_may_call_add_ints(harness: PluginTestHarness) -> None:
    """acceptOnlyFromVortex holds in the harness: the client service's call is refused."""
    assert harness.callRpc(RpcForAgent.addInts, 1, kwval1=2, node="agent") == 3
    with pytest.raises(RemoteError) as raised:
        harness.callRpc(RpcForAgent.addInts, 1, kwval1=2, node="client")
    assert raised.value.code == "AccessDeniedError"


def test_the_platform_hook_gives_api_and_storage(harness: PluginTestHarness) -> None:
    """getOtherPluginApi returns the running plugin's API, and fileStorageDirectory is a
    folder in the harness's temporary home."""
    platform = harness.platformHook("server")
    api = platform.getOtherPluginApi("peek_plugin_tutorial")
    assert isinstance(api, TutorialApiABC)
    folder = platform.fileStorageDirectory
    assert folder.is_dir() and harness.home in folder.parents


def test_stop_unregisters_everything() -> None:
    """After the harness stops, the plugin's RPCs no longer answer on the server."""
    harness = PluginTestHarness("peek_plugin_tutorial", services=("server", "agent")).start()
    router = harness.router("agent")
    harness.stop()
    with pytest.raises(RemoteError) as raised:
        harness.resultOf(RpcForAgent.addInts.via(router)(1))
    assert raised.value.code == "NoEndpointError"
