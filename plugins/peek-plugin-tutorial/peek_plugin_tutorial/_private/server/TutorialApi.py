"""The implementation of the tutorial's public server API (chapter "Add Plugin Python API")."""

from peek_plugin_tutorial.server.DoSomethingTuple import DoSomethingTuple
from peek_plugin_tutorial.server.TutorialApiABC import TutorialApiABC


class TutorialApi(TutorialApiABC):
    """What ``publishedServerApi`` hands to other plugins while the tutorial runs."""

    def __init__(self) -> None:
        self._active = True

    def doSomethingGood(self, somethingsDescription: str) -> DoSomethingTuple:
        if not self._active:
            # A plugin that kept the object past our stop() gets a clear error.
            raise RuntimeError("the tutorial plugin has stopped; ask getOtherPluginApi again")
        if not isinstance(somethingsDescription, str) or not somethingsDescription:
            raise ValueError("doSomethingGood needs a non-empty description")
        return DoSomethingTuple(result="SUCCESS : " + somethingsDescription)

    def shutdown(self) -> None:
        self._active = False
