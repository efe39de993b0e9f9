"""StringCapToggleActionTuple: a device asks the server to toggle the case of a row's string1."""

from peek_plugin_base.vortex import TupleActionABC, TupleField, addTupleType
from peek_plugin_tutorial._private.PluginNames import tutorialTuplePrefix


@addTupleType
class StringCapToggleActionTuple(TupleActionABC):
    """Upper-case ``string1`` of StringIntTuple ``stringIntId``, or lower-case it if it was."""

    __tupleType__ = tutorialTuplePrefix + "StringCapToggleActionTuple"

    stringIntId = TupleField()
