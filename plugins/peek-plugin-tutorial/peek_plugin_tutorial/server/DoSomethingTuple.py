"""The public tuple the tutorial's server API returns (chapter "Add Plugin Python API")."""

from peek_plugin_base.vortex import Tuple, TupleField, addTupleType
from peek_plugin_tutorial._private.PluginNames import tutorialTuplePrefix


@addTupleType
class DoSomethingTuple(Tuple):
    """The result of ``TutorialApiABC.doSomethingGood``."""

    __tupleType__ = tutorialTuplePrefix + "DoSomethingTuple"

    #: What the tutorial made of the description it was given.
    result = TupleField(defaultValue="")
