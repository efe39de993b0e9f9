"""Tuples: the registered record types a message carries, the selector naming observed data,
and the action tuples."""

from peek_vortex.tuples._actions import (
    TupleActionABC,
    TupleGenericAction,
    TupleUpdateAction,
    action_filt,
)
from peek_vortex.tuples._modules import filterModules
from peek_vortex.tuples._selector import TupleSelector
from peek_vortex.tuples._tuples import (
    Tuple,
    TupleField,
    addTupleType,
    registered_tuple_classes,
    registeredTupleNames,
    removeTupleType,
    tuple_info_for_class,
    tuple_info_for_name,
)

__all__ = [
    "Tuple",
    "TupleActionABC",
    "TupleField",
    "TupleGenericAction",
    "TupleSelector",
    "TupleUpdateAction",
    "action_filt",
    "addTupleType",
    "filterModules",
    "registeredTupleNames",
    "registered_tuple_classes",
    "removeTupleType",
    "tuple_info_for_class",
    "tuple_info_for_name",
]
