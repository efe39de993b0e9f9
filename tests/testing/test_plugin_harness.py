"""PluginTestHarness: the platform's lifecycle order, HTTP mounts, failures and clean-up."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peek_plugin_base.testing import PluginTestHarness, PluginTestHarnessError
from peek_plugin_base.vortex import Payload
from peek_vortex.tuples import registeredTupleNames
from tests import host_journal
from tests.support import write_plugin

WEB_PLUGIN = '''
"""Fixture plugin mounting a page on the server's admin site and the client's mobile site."""
from twisted.web.resource import Resource

from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class Page(Resource):
    isLeaf = True

    def __init__(self, text):
        super().__init__()
        self.text = text

    def render_GET(self, request):
        return self.text


class Server(PluginServerEntryHookABC):
    def load(self):
        pass

    async def start(self):
        self.platform.addAdminResource(b"page", Page(b"admin page"))

    def stop(self):
        pass

    def unload(self):
        pass


class Client(PluginClientEntryHookABC):
    def load(self):
        pass

    def start(self):
        self.platform.addMobileResource(b"page", Page(b"mobile page"))

    def stop(self):
        pass

    def unload(self):
        pass


def peekServerEntryHook():
    return Server


def peekClientEntryHook():
    return Client
'''


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for fixture plugins, forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    host_journal.JOURNAL.clear()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fx_harness_")]:
        del sys.modules[name]


def test_lifecycle_runs_in_the_platforms_order(plugins: Path) -> None:
    """Per service (server first): load all, then start all (awaiting async starts); stop
    stops every plugin in reverse, then unloads in reverse, last service first."""
    write_plugin(plugins, "fx_harness_a", behaviour={"start": "async", "stop": "async"})
    write_plugin(plugins, "fx_harness_b", requires=("fx_harness_a",))
    harness = PluginTestHarness(["fx_harness_b", "fx_harness_a"],
                                services=("server", "agent")).start()
    started = list(host_journal.JOURNAL)
    host_journal.JOURNAL.clear()
    harness.stop()
    once = [("fx_harness_a", "load"), ("fx_harness_b", "load"), ("fx_harness_a", "start"),
            ("fx_harness_a", "start-async-done"), ("fx_harness_b", "start")]
    assert started == once + once
    down = [("fx_harness_b", "stop"), ("fx_harness_a", "stop"),
            ("fx_harness_a", "stop-async-done"), ("fx_harness_b", "unload"),
            ("fx_harness_a", "unload")]
    assert host_journal.JOURNAL == down + down
    assert not harness.home.exists()


def test_http_resources_can_be_requested(plugins: Path) -> None:
    """What a plugin mounts with add*Resource is served under /<plugin>/ on that site."""
    write_plugin(plugins, "fx_harness_web", services=("server", "client"),
                 init_source=WEB_PLUGIN)
    with PluginTestHarness("fx_harness_web", services=("server", "client")) as harness:
        assert harness.httpGet("server", "Admin", b"/fx_harness_web/page") == (200,
                                                                             b"admin page")
        assert harness.httpGet("client", "Mobile", b"/fx_harness_web/page") == (200,
                                                                              b"mobile page")


def test_a_failing_start_is_an_error_naming_it(plugins: Path) -> None:
    """A plugin whose start() raises makes start() raise with the plugin and the reason,
    after stopping what had started."""
    write_plugin(plugins, "fx_harness_ok")
    write_plugin(plugins, "fx_harness_bad", behaviour={"start": "raise"})
    harness = PluginTestHarness(["fx_harness_ok", "fx_harness_bad"], services=("server",))
    with pytest.raises(PluginTestHarnessError, match="fx_harness_bad.*start\\(\\) failed"):
        harness.start()
    assert ("fx_harness_ok", "unload") in host_journal.JOURNAL
    assert not harness.home.exists()


def test_unknown_service_is_refused() -> None:
    """A service name that is not one of the four is refused, naming the valid ones."""
    with pytest.raises(PluginTestHarnessError, match="server, client, agent, worker"):
        PluginTestHarness("x", services=("sever",))


TUPLE_PLUGIN = '''
"""Fixture plugin whose tuple module is first imported by load()."""
import importlib

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class Server(PluginServerEntryHookABC):
    def load(self):
        importlib.import_module("fx_harness_tuples.things")

    def start(self):
        pass

    def stop(self):
        pass

    def unload(self):
        pass


def peekServerEntryHook():
    return Server
'''


def test_tuple_types_stay_registered_for_the_next_harness(plugins: Path) -> None:
    """A tuple module first imported in load() stays imported after stop, so its types stay
    registered: a second harness in the same process can still encode and decode them."""
    package = write_plugin(plugins, "fx_harness_tuples", services=("server",),
                           init_source=TUPLE_PLUGIN)
    (package / "things.py").write_text(
        "from peek_plugin_base.vortex import Tuple, TupleField, addTupleType\n\n\n"
        "@addTupleType\nclass Thing(Tuple):\n"
        "    __tupleType__ = 'fx_harness_tuples.Thing'\n    value = TupleField()\n")
    with PluginTestHarness("fx_harness_tuples", services=("server",)):
        pass
    with PluginTestHarness("fx_harness_tuples", services=("server",)):
        things = sys.modules["fx_harness_tuples.things"]
        assert "fx_harness_tuples.Thing" in registeredTupleNames()
        encoded = Payload({}, [things.Thing(value=3)]).toVortexMsg()
        assert Payload.fromVortexMsg(encoded).tuples == [things.Thing(value=3)]
