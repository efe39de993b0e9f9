"""The Plugin Python API chapter: another server plugin reaches the tutorial's API."""

import json
import shutil
import sys
import tempfile
from pathlib import Path

from peek_plugin_tutorial.server.DoSomethingTuple import DoSomethingTuple
from peek_plugin_tutorial.server.TutorialApiABC import TutorialApiABC
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.trial.unittest import TestCase

from peek_platform.config import ServiceConfig
from peek_platform.plugin.host import PluginHost, PluginState, ServicePluginSpec
from peek_platform.storage.service import StorageService
from peek_platform.web.plugin_site import PluginSiteRoot
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import default_router
from peek_server.platform_hook import ServerPlatformHook
from peek_vortex import OwnershipScope
from tests.support import write_plugin
from tests.tutorial_api import api_user

USER = "fx_tutorial_api_user"
USER_SOURCE = '''
"""Fixture plugin using the tutorial's server API."""
from tests.tutorial_api.api_user import peekServerEntryHook as peekServerEntryHook
'''


class PluginApiTests(TestCase):
    """A real server plugin host (SQLite storage) with the tutorial and a plugin using it."""

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-tutorial-api-"))
        self.addCleanup(shutil.rmtree, root, True)
        plugins = root / "plugins"
        plugins.mkdir(parents=True)
        write_plugin(plugins, USER, services=("server",), requires=("peek_plugin_tutorial",),
                     init_source=USER_SOURCE)
        sys.path.insert(0, str(plugins))
        self.addCleanup(sys.path.remove, str(plugins))
        self.addCleanup(sys.modules.pop, USER, None)
        api_user.RESULTS.clear()
        # The tutorial's RPCs listen as peek-server; this process plays the server.
        router = default_router()
        names = tuple(router.local_vortex_names)
        router.set_local_vortex_names(("peek-server",))
        self.addCleanup(router.set_local_vortex_names, names)

        home = root / "home"
        home.mkdir()
        (home / "config.json").write_text(json.dumps(
            {"sqlalchemy": {"connectUrl": f"sqlite:///{home / 'peek.sqlite'}"}}))
        self.config = ServiceConfig.load("server", home)
        self.storage = StorageService(self.config)

        def make_hook(host: PluginHost, name: str, log: OwnershipScope) -> ServerPlatformHook:
            sites = {"Admin": PluginSiteRoot("admin"), "Server": PluginSiteRoot("platform")}
            return ServerPlatformHook(host, name, log, self.config, sites, storage=self.storage)

        self.host = PluginHost(ServicePluginSpec(
            service="server", entry_hook_abc=PluginServerEntryHookABC,
            accepted_service_names=frozenset({"server", "storage"}),
            make_platform_hook=make_hook, before_load=self.storage.before_load,
        ))

    async def _start(self) -> None:
        await maybeDeferred(self.storage.startService)
        self.addCleanup(self.storage.stopService)
        await self.host.start_plugins(["peek_plugin_tutorial", USER])

    def test_other_plugin_gets_and_uses_the_api(self) -> Deferred[None]:
        """getOtherPluginApi("peek_plugin_tutorial") gives a TutorialApiABC whose
        doSomethingGood answers the seed's "SUCCESS : ..." tuple."""

        async def run() -> None:
            await self._start()
            try:
                states = {r.name: r.state for r in self.host.records.values()}
                self.assertEqual(states[USER], PluginState.RUNNING)
                result, api = api_user.RESULTS
                self.assertIsInstance(result, DoSomethingTuple)
                self.assertEqual(result.result, "SUCCESS : from fx_api_user")
                self.assertIsInstance(api, TutorialApiABC)
                self.assertIs(self.host.published_api("peek_plugin_tutorial"), api)
                with self.assertRaises(ValueError):
                    api.doSomethingGood("")
            finally:
                await self.host.stop_all()
            # After stop the API is withdrawn, and a kept reference says so clearly.
            self.assertIsNone(self.host.published_api("peek_plugin_tutorial"))
            with self.assertRaises(RuntimeError) as raised:
                api.doSomethingGood("too late")
            self.assertIn("stopped", str(raised.exception))

        return Deferred.fromCoroutine(run())

    def test_the_api_is_absent_without_the_tutorial(self) -> Deferred[None]:
        """A plugin requiring the tutorial is skipped when the tutorial is not enabled,
        so it never sees a missing API at runtime."""

        async def run() -> None:
            await maybeDeferred(self.storage.startService)
            self.addCleanup(self.storage.stopService)
            await self.host.start_plugins([USER])
            try:
                self.assertEqual(self.host.records[USER].state, PluginState.SKIPPED)
                self.assertIsNone(self.host.published_api("peek_plugin_tutorial"))
                self.assertEqual(api_user.RESULTS, [])
            finally:
                await self.host.stop_all()

        return Deferred.fromCoroutine(run())
