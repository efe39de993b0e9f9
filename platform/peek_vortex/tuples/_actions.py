"""Action tuples: what a user did (a click, an edit), sent once and answered once."""

import datetime
import uuid
from typing import Any, Optional

from peek_vortex.tuples._selector import TupleSelector
from peek_vortex.tuples._tuples import Tuple, TupleField, register_platform_tuple


def _new_action_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class TupleActionABC(Tuple):
    """Base class of action tuples: each action carries a unique id and its creation time.

    ``uuid`` is generated when the action is constructed (a random UUID string) and is
    what makes retries safe: a processor answers a repeated id with the first result
    instead of running the action again. ``dateTime`` is the (UTC) creation time.
    Subclasses add fields and are registered with ``@addTupleType`` as any tuple::

        @addTupleType
        class AddIntValueActionTuple(TupleActionABC):
            __tupleType__ = "peek_plugin_tutorial.AddIntValueActionTuple"
            stringIntId = TupleField()
            offset = TupleField()
    """

    __slots__ = ()

    uuid = TupleField(defaultValue=_new_action_id, comment="unique id of this action")
    dateTime = TupleField(defaultValue=_now, comment="when the action was created (UTC)")


@register_platform_tuple
class TupleGenericAction(TupleActionABC):
    """``TupleGenericAction(key, data)``: a named action with free-form data (e.g. a click)."""

    __tupleType__ = "vortex.TupleGenericAction"

    key = TupleField()
    data = TupleField()

    def __init__(self, key: Optional[str] = None, data: Any = None, **kwargs: Any) -> None:
        super().__init__(key=key, data=data, **kwargs)


@register_platform_tuple
class TupleUpdateAction(TupleActionABC):
    """``TupleUpdateAction(tupleTypeName, tupleSelector=..., tupleIds=..., data=...)``: an edit.

    Names the tuple type changed (``tupleTypeName``: a field called ``tupleName`` would
    hide :meth:`Tuple.tupleName`), which tuples (by ``tupleSelector`` and/or ``tupleIds``)
    and the changes (``data``, usually a dict of field names to new values; the seed's
    ``tupleChanges``).
    """

    __tupleType__ = "vortex.TupleUpdateAction"

    tupleTypeName = TupleField()
    tupleSelector = TupleField()
    tupleIds = TupleField(defaultValue=list)
    data = TupleField(defaultValue=dict)

    def __init__(
        self,
        tupleTypeName: Optional[str] = None,
        tupleSelector: Optional[TupleSelector] = None,
        tupleIds: Optional[list[Any]] = None,
        data: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            tupleTypeName=tupleTypeName,
            tupleSelector=tupleSelector,
            tupleIds=[] if tupleIds is None else tupleIds,
            data={} if data is None else data,
            **kwargs,
        )


def action_filt(tupleActionProcessorName: str, additionalFilt: Optional[dict[str, Any]]) -> dict:
    """The routing filt of one action processor: ``{**additionalFilt, "key": ...}``.

    The processor's name is in ``key`` so the router's index finds the processor directly.
    """
    return {**(additionalFilt or {}), "key": f"vortex.action.{tupleActionProcessorName}"}


def action_type_name(action: Any) -> str:
    """The registered type name of an action (or its class name if it has none)."""
    return getattr(type(action), "__tupleType__", type(action).__name__)
