"""StringIntTotalTuple: the StringInt table's total, computed by a worker task."""

from peek_plugin_base.vortex import Tuple, TupleField, addTupleType
from peek_plugin_tutorial._private.PluginNames import tutorialTuplePrefix


@addTupleType
class StringIntTotalTuple(Tuple):
    """The sum of every StringInt row's int1 (empty values count as 0) and the row count.

    The worker returns it from ``totalStringInts``; the server's observable publishes it.
    """

    __tupleType__ = tutorialTuplePrefix + "StringIntTotalTuple"

    total = TupleField(defaultValue=0)
    rowCount = TupleField(defaultValue=0)
