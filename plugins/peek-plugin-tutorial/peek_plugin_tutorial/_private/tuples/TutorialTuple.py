"""TutorialTuple: a plain bus tuple (not stored in a table)."""

from peek_plugin_base.vortex import Tuple, TupleField, addTupleType
from peek_plugin_tutorial._private.PluginNames import tutorialTuplePrefix


@addTupleType
class TutorialTuple(Tuple):
    """An example record the services and devices can exchange."""

    __tupleType__ = tutorialTuplePrefix + "TutorialTuple"

    #: Free-form named values (a new dict per tuple).
    dict1 = TupleField(defaultValue=dict)
    #: A list of values (a new list per tuple).
    array1 = TupleField(defaultValue=list)
    #: A date and time (send tz-aware datetimes).
    date1 = TupleField()
