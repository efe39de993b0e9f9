"""A fixture plugin's server hook that uses the tutorial's published API."""

from typing import Any

from peek_plugin_tutorial.server.TutorialApiABC import TutorialApiABC

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC

#: What the fixture plugin got from the tutorial's API, in order.
RESULTS: list[Any] = []


class ApiUserServerHook(PluginServerEntryHookABC):
    """Asks for the tutorial's API in start(), as another plugin on the server would."""

    def load(self) -> None:
        pass

    def start(self) -> None:
        api = self.platform.getOtherPluginApi("peek_plugin_tutorial")
        # The ABC is the documented type; the object is the tutorial's private implementation.
        assert isinstance(api, TutorialApiABC), f"wrong tutorial API: {api!r}"
        RESULTS.append(api.doSomethingGood("from fx_api_user"))
        RESULTS.append(api)

    def stop(self) -> None:
        pass

    def unload(self) -> None:
        pass


def peekServerEntryHook() -> type[PluginServerEntryHookABC]:
    return ApiUserServerHook
