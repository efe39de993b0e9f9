"""AddIntValueActionTuple: a device asks the server to add ``offset`` to a row's int1."""

from peek_plugin_base.vortex import TupleActionABC, TupleField, addTupleType
from peek_plugin_tutorial._private.PluginNames import tutorialTuplePrefix


@addTupleType
class AddIntValueActionTuple(TupleActionABC):
    """Add ``offset`` (may be negative) to ``int1`` of StringIntTuple ``stringIntId``."""

    __tupleType__ = tutorialTuplePrefix + "AddIntValueActionTuple"

    stringIntId = TupleField()
    offset = TupleField()
