"""Tuple declaration, registration (and its rollback), equality and JSON-dict conversion."""

import datetime
from decimal import Decimal

import pytest

from peek_plugin_base.vortex import Payload, Tuple, TupleField, TupleSelector, addTupleType
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.errors import DuplicateTupleTypeError, TupleTypeError, UnknownTupleTypeError
from peek_vortex.tuples import registeredTupleNames


class Task(Tuple):
    __tupleType__ = "test.tuples.Task"
    title = TupleField()
    tags = TupleField(defaultValue=list)
    meta = TupleField(defaultValue={"a": [1]})
    done = TupleField(defaultValue=False)


def test_defaults_are_fresh_per_instance(register):
    """Callable defaults are called and mutable defaults copied, so instances never share."""
    register(Task)
    one, two = Task(), Task()
    one.tags.append("x")
    one.meta["a"].append(2)
    assert two.tags == [] and two.meta == {"a": [1]}
    assert one.done is False and one.title is None


def test_tuple_name_and_field_order(register):
    """tupleName() is the __tupleType__; fields keep declaration order."""
    register(Task)
    assert Task.tupleName() == "test.tuples.Task"
    assert Task(title="a").tupleType() == "test.tuples.Task"
    assert Task.tupleFieldNames() == ("title", "tags", "meta", "done")


def test_value_equality_and_unhashable(register):
    """Tuples are equal by class and field values, and, being mutable, not hashable."""
    register(Task)
    assert Task(title="a", tags=[1]) == Task(title="a", tags=[1])
    assert Task(title="a") != Task(title="b")

    class Other(Tuple):
        __tupleType__ = "test.tuples.Other"
        title = TupleField()
        tags = TupleField(defaultValue=list)
        meta = TupleField(defaultValue={"a": [1]})
        done = TupleField(defaultValue=False)

    assert Task(title="a") != Other(title="a")
    with pytest.raises(TypeError):
        hash(Task())


def test_unknown_constructor_field_is_an_error(register):
    """Constructing with a name that is not a declared field fails, naming the field."""
    register(Task)
    with pytest.raises(TypeError, match="no tuple field 'colour'"):
        Task(colour="red")


def test_duplicate_type_name_names_both_classes(register):
    """A second class under a taken __tupleType__ is refused with both class paths."""
    register(Task)

    class Impostor(Tuple):
        __tupleType__ = "test.tuples.Task"

    with pytest.raises(DuplicateTupleTypeError) as caught:
        register(Impostor)
    assert "test_tuples.Task" in str(caught.value)
    assert "test_tuples.test_duplicate_type_name_names_both_classes.<locals>.Impostor" in str(
        caught.value
    )
    register(Task)  # registering the same class again is harmless


def test_declaration_errors():
    """Missing __tupleType__, non-Tuple classes and private field names are refused."""

    class NoName(Tuple):
        x = TupleField()

    with pytest.raises(TupleTypeError, match="__tupleType__"):
        addTupleType(NoName)

    class NotATuple:
        __tupleType__ = "test.tuples.NotATuple"

    with pytest.raises(TupleTypeError, match="Tuple subclass"):
        addTupleType(NotATuple)

    class Private(Tuple):
        __tupleType__ = "test.tuples.Private"
        _secret = TupleField()

    with pytest.raises(TupleTypeError, match="'_secret'"):
        addTupleType(Private)
    assert "test.tuples.Private" not in registeredTupleNames()


def test_plugin_rollback_unregisters_its_types():
    """Types registered while a plugin loads are gone after its log rolls back; a reloaded
    plugin can then register a new class under the same name."""
    log = OwnershipScope("peek_plugin_demo")
    with owned_by(log):

        @addTupleType
        class Demo(Tuple):
            __tupleType__ = "test.tuples.Demo"
            v = TupleField()

    assert "tuple type test.tuples.Demo" in log.descriptions
    msg = Payload({"key": "k"}, [Demo(v=1)]).toVortexMsg()
    assert Payload.fromVortexMsg(msg).tuples == [Demo(v=1)]

    log.rollback()
    assert "test.tuples.Demo" not in registeredTupleNames()
    with pytest.raises(UnknownTupleTypeError, match="test.tuples.Demo"):
        Payload.fromVortexMsg(msg)

    reload_log = OwnershipScope("peek_plugin_demo")
    with owned_by(reload_log):

        @addTupleType
        class Demo2(Tuple):
            __tupleType__ = "test.tuples.Demo"
            v = TupleField()

    assert Payload.fromVortexMsg(msg).tuples == [Demo2(v=1)]
    reload_log.rollback()


def test_json_dict_round_trip_with_nested_tuples(register):
    """toJsonDict gives JSON-safe values (tagged) and fromJsonDict rebuilds the same tuple."""
    register(Task)
    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    task = Task(title="t", tags=[Task(title="inner")], meta={"when": when, "d": Decimal("2.5")})
    json_dict = task.toJsonDict()
    assert json_dict["_tt"] == "test.tuples.Task"
    assert json_dict["meta"]["when"] == {"~d": "2024-05-01T12:00:00+00:00"}
    assert json_dict["tags"][0]["~j"]["title"] == "inner"
    assert Tuple.fromJsonDict(json_dict) == task
    assert task.tupleClone() == task and task.tupleClone() is not task


def test_tuple_selector_key_is_stable():
    """Equal selectors give the same key whatever the dict order, hash alike, and survive
    the wire and the key round trip."""
    a = TupleSelector("test.Thing", {"b": 1, "a": {"y": 2, "x": [1, 2]}})
    b = TupleSelector("test.Thing", {"a": {"x": [1, 2], "y": 2}, "b": 1})
    assert a.toJsonStr() == b.toJsonStr() == '["test.Thing",{"a":{"x":[1,2],"y":2},"b":1}]'
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != TupleSelector("test.Thing", {"b": 2})
    assert TupleSelector.fromJsonStr(a.toJsonStr()) == a
    back = Payload.fromVortexMsg(Payload({"key": "k"}, [a]).toVortexMsg()).tuples[0]
    assert isinstance(back, TupleSelector) and back == a
