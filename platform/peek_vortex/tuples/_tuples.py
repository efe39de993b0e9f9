"""Tuples: typed records with declared fields, and the registry the decoder builds them from."""

import copy
import operator
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Optional, Protocol, TypeVar

from peek_vortex._ownership import OwnershipScope, owned_by, record_owned
from peek_vortex.errors import DuplicateTupleTypeError, TupleTypeError

_MUTABLE_DEFAULTS = (list, dict, set, bytearray)


class TupleField:
    """Declares one field of a :class:`Tuple` and its default.

    ``defaultValue`` may be a plain value (lists, dicts and sets are copied for every new
    tuple, so instances never share them) or a callable such as ``dict`` or ``list``, which
    is called for every new tuple.
    """

    __slots__ = ("defaultValue", "comment", "name")

    def __init__(self, defaultValue: Any = None, comment: str = "") -> None:
        self.defaultValue = defaultValue
        self.comment = comment
        self.name: Optional[str] = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def makeDefault(self) -> Any:
        """A fresh default value for one new tuple."""
        default = self.defaultValue
        if callable(default):
            return default()
        if isinstance(default, _MUTABLE_DEFAULTS):
            return copy.deepcopy(default)
        return default

    def __get__(self, instance: Any, owner: type) -> Any:
        # Instances normally hold every field in their __dict__, so this only runs for the
        # class itself (returning the declaration) or an instance built around __init__.
        if instance is None:
            return self
        value = self.makeDefault()
        instance.__dict__[self.name] = value
        return value

    def __repr__(self) -> str:
        return f"TupleField(defaultValue={self.defaultValue!r})"


class TupleInfo:
    """What the codec needs to know about one tuple class, resolved on first use.

    Fields are resolved lazily because SQLAlchemy mappers may only be complete once every
    class of their registry exists.
    """

    __slots__ = (
        "cls", "name", "fields", "field_set", "getter", "fast", "tuple_fields", "mapper",
        "decode_plans",
    )

    def __init__(self, cls: type, name: str) -> None:
        self.cls = cls
        self.name = name
        self.fields: Optional[tuple[str, ...]] = None
        self.field_set: frozenset[str] = frozenset()
        self.getter: Callable[[Any], tuple] = _no_fields
        self.fast = False
        self.tuple_fields: tuple[tuple[str, TupleField], ...] = ()
        self.mapper: Any = None
        #: The codec's decoding plans by wire field list (it owns and bounds this cache).
        self.decode_plans: dict[tuple[str, ...], Any] = {}

    def resolve(self) -> "TupleInfo":
        """Work out the field list (TupleFields, then mapped columns) once."""
        if self.fields is not None:
            return self
        cls = self.cls
        declared: dict[str, Optional[TupleField]] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, TupleField):
                    declared[attr] = value
        mapper = _sqlalchemy_mapper(cls)
        if mapper is not None:
            for prop in mapper.column_attrs:
                declared.setdefault(prop.key, None)
        for attr in declared:
            if attr.startswith("_"):
                raise TupleTypeError(
                    f"tuple type {self.name!r} ({_path(cls)}): field {attr!r} starts with "
                    "'_'; tuple fields must be public names"
                )
        fields = tuple(declared)
        self.mapper = mapper
        self.tuple_fields = tuple((k, v) for k, v in declared.items() if v is not None)
        self.field_set = frozenset(fields)
        if len(fields) == 0:
            self.getter = _no_fields
        elif len(fields) == 1:
            single = operator.attrgetter(fields[0])
            self.getter = lambda obj: (single(obj),)
        else:
            self.getter = operator.attrgetter(*fields)
        # Plain classes with a __dict__ are rebuilt by filling __dict__ directly; mapped
        # classes need SQLAlchemy's instance state, so they go through setattr.
        self.fast = mapper is None and cls.__dictoffset__ != 0
        self.fields = fields
        return self

    def new_instance(self) -> Any:
        """An empty instance, without running ``__init__`` (the decoder fills the fields)."""
        if self.mapper is not None:
            return self.mapper.class_manager.new_instance()
        return object.__new__(self.cls)


def _no_fields(obj: Any) -> tuple:
    return ()


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _sqlalchemy_mapper(cls: type) -> Any:
    if getattr(cls, "__mapper__", None) is None:
        return None
    from sqlalchemy import inspect

    return inspect(cls, raiseerr=False)


_by_name: dict[str, TupleInfo] = {}
_by_class: dict[type, TupleInfo] = {}
# Classes that were never registered can still be constructed; their info is cached weakly.
_unregistered: "weakref.WeakKeyDictionary[type, TupleInfo]" = weakref.WeakKeyDictionary()


def tuple_info_for_name(name: str) -> Optional[TupleInfo]:
    """The registered info for a ``__tupleType__`` name, or None."""
    return _by_name.get(name)


def tuple_info_for_class(cls: type) -> Optional[TupleInfo]:
    """The registered info for a class, or None when it is not registered."""
    return _by_class.get(cls)


def _info_for_construction(cls: type) -> TupleInfo:
    info = _by_class.get(cls) or _unregistered.get(cls)
    if info is None:
        info = TupleInfo(cls, cls.__dict__.get("__tupleType__", cls.__qualname__))
        _unregistered[cls] = info
    return info.resolve()


def registered_tuple_classes() -> list[type]:
    """Every registered tuple class (for the test harness, which keeps a stopped plugin's
    still-imported classes registered)."""
    return [info.cls for info in _by_name.values()]


def registeredTupleNames() -> list[str]:
    """Every registered ``__tupleType__``, sorted."""
    return sorted(_by_name)


def addTupleType(cls: type) -> type:
    """Class decorator: register a :class:`Tuple` subclass so the bus can decode it.

    The class must set ``__tupleType__`` in its own body (conventionally a plugin prefix
    plus the class name). Registering a second class under a name already taken is an
    error naming both classes. The registration is recorded against the plugin being
    loaded, so it is undone when that plugin fails or unloads.
    """
    if not isinstance(cls, type) or not issubclass(cls, Tuple):
        raise TupleTypeError(f"@addTupleType needs a Tuple subclass, got {cls!r}")
    name = cls.__dict__.get("__tupleType__")
    if not isinstance(name, str) or not name:
        raise TupleTypeError(
            f"{_path(cls)} must set __tupleType__ to a non-empty string in its own class body"
        )
    existing = _by_name.get(name)
    if existing is not None:
        if existing.cls is cls:
            return cls
        raise DuplicateTupleTypeError(name, existing.cls, cls)
    info = TupleInfo(cls, name)
    if getattr(cls, "__mapper__", None) is None:
        info.resolve()  # plain classes: report bad field names at declaration time
    _unregistered.pop(cls, None)
    _by_name[name] = info
    _by_class[cls] = info
    record_owned(f"tuple type {name}", lambda: removeTupleType(cls))
    return cls


def removeTupleType(cls: type) -> None:
    """Unregister a tuple class (what a plugin's rollback does); unknown classes are ignored."""
    info = _by_class.pop(cls, None)
    if info is not None and _by_name.get(info.name) is info:
        del _by_name[info.name]


class TupleJsonForm(Protocol):
    """The conversion between tuples and their standalone JSON dicts (``{"_tt": ...}``).

    The wire owns it, because the values take the wire format's tagged forms: importing
    :mod:`peek_vortex.wire` (which importing :mod:`peek_vortex` does) installs it with
    :func:`set_tuple_json_form`. The tuples never import the wire, which imports them.
    """

    def to_json_dict(self, obj: "Tuple") -> dict[str, Any]:
        """``obj`` as a JSON-compatible dict."""

    def from_json_dict(self, json_dict: dict[str, Any]) -> "Tuple":
        """The registered tuple ``json_dict`` describes."""


class _NoJsonForm:
    """Stands in until the wire installs its JSON form (only if peek_vortex was bypassed)."""

    def to_json_dict(self, obj: "Tuple") -> dict[str, Any]:
        raise TupleTypeError("a tuple's JSON form is the wire's: import peek_vortex.wire first")

    def from_json_dict(self, json_dict: dict[str, Any]) -> "Tuple":
        raise TupleTypeError("a tuple's JSON form is the wire's: import peek_vortex.wire first")


_json_form: TupleJsonForm = _NoJsonForm()


def set_tuple_json_form(form: TupleJsonForm) -> None:
    """Install the conversion behind :meth:`Tuple.toJsonDict` and :meth:`Tuple.fromJsonDict`
    (the wire does, once, when it is imported)."""
    global _json_form
    _json_form = form


class Tuple:
    """Base class of every record the bus carries.

    Declare fields as class attributes ``name = TupleField(defaultValue=...)``; SQLAlchemy
    declarative classes may mix this in (``class StringIntTuple(Tuple, DeclarativeBase)``),
    their mapped columns then count as fields too. Tuples compare equal when they are of
    the same class with equal field values; being mutable, they are not hashable.
    """

    __slots__ = ()
    __tupleType__: ClassVar[str]

    def __init__(self, **kwargs: Any) -> None:
        info = _info_for_construction(type(self))
        for name, field in info.tuple_fields:
            if name in kwargs:
                setattr(self, name, kwargs.pop(name))
            else:
                setattr(self, name, field.makeDefault())
        for name, value in kwargs.items():
            if name not in info.field_set:
                raise TypeError(f"{_path(type(self))} has no tuple field {name!r}")
            setattr(self, name, value)

    @classmethod
    def tupleName(cls) -> str:
        """The registered type name (``__tupleType__``)."""
        return cls.__tupleType__

    def tupleType(self) -> str:
        """The type name of this tuple (same as :meth:`tupleName`)."""
        return type(self).__tupleType__

    @classmethod
    def tupleFieldNames(cls) -> tuple[str, ...]:
        """The declared field names, in declaration order (base classes first)."""
        fields = _info_for_construction(cls).fields
        assert fields is not None
        return fields

    def tupleToDict(self) -> dict[str, Any]:
        """The field values as a plain dict (values are not converted)."""
        info = _info_for_construction(type(self))
        return dict(zip(info.fields or (), info.getter(self), strict=True))

    def toJsonDict(self) -> dict[str, Any]:
        """A JSON-compatible dict: ``{"_tt": type name, field: value, ...}``.

        Values use the wire format's tagged forms for datetimes, bytes, Decimals and nested
        tuples (see :class:`peek_vortex.wire._codec.VortexCodec`).
        """
        return _json_form.to_json_dict(self)

    @staticmethod
    def fromJsonDict(jsonDict: dict[str, Any]) -> "Tuple":
        """Rebuild a registered tuple from :meth:`toJsonDict` output."""
        return _json_form.from_json_dict(jsonDict)

    def tupleClone(self) -> "Tuple":
        """A deep copy made through the JSON form (so it is what a receiver would get)."""
        return Tuple.fromJsonDict(self.toJsonDict())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        getter = _info_for_construction(type(self)).getter
        return bool(getter(self) == getter(other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        info = _info_for_construction(type(self))
        values = ", ".join(
            f"{k}={v!r}" for k, v in zip(info.fields or (), info.getter(self), strict=True)
        )
        return f"{type(self).__name__}({values})"


TypeT = TypeVar("TypeT", bound=type)


def register_platform_tuple(cls: TypeT) -> TypeT:
    """Register a tuple type the platform itself owns.

    These modules may first be imported while some plugin is loading; registering under
    a throwaway log keeps that plugin's rollback from unregistering platform types.
    """
    with owned_by(OwnershipScope("peek_plugin_base")):
        addTupleType(cls)
    return cls
