"""Test helpers: action tuple types for the tests and a recorder of a node's received messages."""

from collections.abc import Callable

from peek_plugin_base.testing import MemoryNode
from peek_plugin_base.vortex import (
    PayloadEnvelope,
    Tuple,
    TupleActionABC,
    TupleField,
    addTupleType,
)


@addTupleType
class AddIntValueAction(TupleActionABC):
    """The tutorial's action: add ``offset`` to the int of row ``stringIntId``."""

    __tupleType__ = "tests.actions_rpc.AddIntValueAction"

    stringIntId = TupleField()
    offset = TupleField()


@addTupleType
class ToggleCapsAction(TupleActionABC):
    """The tutorial's other action: toggle the capitals of row ``stringIntId``."""

    __tupleType__ = "tests.actions_rpc.ToggleCapsAction"

    stringIntId = TupleField()


@addTupleType
class OrphanAction(TupleActionABC):
    """An action type no processor in the tests has a delegate for."""

    __tupleType__ = "tests.actions_rpc.OrphanAction"


@addTupleType
class StringIntTuple(Tuple):
    """A data tuple, as results and RPC arguments."""

    __tupleType__ = "tests.actions_rpc.StringIntTuple"

    id = TupleField()
    string1 = TupleField()
    int1 = TupleField(defaultValue=0)


def record_received(node: MemoryNode) -> list[PayloadEnvelope]:
    """Every message ``node`` receives from now on, as envelopes (headers only)."""
    seen: list[PayloadEnvelope] = []
    receive: Callable[..., None] = node.router.receive

    def recording(data: bytes, sender: object, device: bool = False) -> None:
        seen.append(PayloadEnvelope.fromVortexMsg(data))
        receive(data, sender, device)

    node.router.receive = recording  # type: ignore[method-assign]
    return seen
