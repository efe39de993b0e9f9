"""TupleSelector: names a set of tuples (a type plus selection criteria) for observables."""

from typing import Any, Optional

import orjson

from peek_vortex.tuples._tuples import Tuple, TupleField, register_platform_tuple


@register_platform_tuple
class TupleSelector(Tuple):
    """``TupleSelector(name, selector)``: which tuples an observer wants.

    ``name`` is usually a tuple type name and ``selector`` a dict of criteria. Two
    selectors are equal exactly when their :meth:`toJsonStr` keys are equal, and hash by
    that key, so they can index caches and subscription tables.
    """

    __tupleType__ = "vortex.TupleSelector"

    name = TupleField()
    selector = TupleField(defaultValue=dict)

    def __init__(self, name: Optional[str] = None, selector: Optional[dict] = None) -> None:
        super().__init__(name=name, selector={} if selector is None else selector)

    def toJsonStr(self) -> str:
        """A stable string key: the same name and selector always give the same string.

        Keys are sorted at every level; values use the wire format's tagged forms, so
        datetimes, Decimals and bytes in selectors have a fixed spelling too.
        """
        json_dict = self.toJsonDict()
        return orjson.dumps(
            [json_dict["name"], json_dict["selector"]], option=orjson.OPT_SORT_KEYS
        ).decode()

    @classmethod
    def fromJsonStr(cls, jsonStr: str) -> "TupleSelector":
        """Rebuild a selector from its :meth:`toJsonStr` key."""
        name, selector = orjson.loads(jsonStr)
        rebuilt = Tuple.fromJsonDict({"_tt": cls.__tupleType__, "name": name, "selector": selector})
        assert isinstance(rebuilt, TupleSelector)
        return rebuilt

    def __eq__(self, other: Any) -> bool:
        if type(other) is not TupleSelector:
            return NotImplemented
        return self.toJsonStr() == other.toJsonStr()

    def __hash__(self) -> int:
        return hash(self.toJsonStr())

    def __repr__(self) -> str:
        return f"TupleSelector({self.name!r}, {self.selector!r})"
