"""The interface other server plugins get from ``getOtherPluginApi("peek_plugin_tutorial")``."""

from abc import ABCMeta, abstractmethod

from peek_plugin_tutorial.server.DoSomethingTuple import DoSomethingTuple


class TutorialApiABC(metaclass=ABCMeta):
    """The tutorial's server-side API; the implementation stays in ``_private``.

    Other plugins import only this class (to document and type-check what they call)
    and receive the live implementation from the platform::

        api = self.platform.getOtherPluginApi("peek_plugin_tutorial")
        assert isinstance(api, TutorialApiABC)
        api.doSomethingGood("water the plants").result

    The API exists between the tutorial's start() and stop(); ask for it in your own
    start(), and declare ``"requiresPlugins": ["peek_plugin_tutorial"]`` so the tutorial
    starts first.
    """

    @abstractmethod
    def doSomethingGood(self, somethingsDescription: str) -> DoSomethingTuple:
        """Do something good with ``somethingsDescription`` (any string).

        Returns a DoSomethingTuple whose ``result`` is ``"SUCCESS : "`` followed by the
        description. Raises ValueError for an empty description.
        """
