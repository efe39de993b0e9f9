"""Golden vectors of the wire format: messages and their exact bytes, for every codec.

``golden_vectors.json`` (beside this module) pins what the Python codec writes; the
Python test checks the codec still writes and reads exactly those bytes, and the browser
test checks the JavaScript codec (``/peek/vortex.js``) against the same file.

Messages are described in *typed JSON*, readable from any language: JSON values as they
are (a number with a fraction or exponent is a float, without one an int), except that an
object with exactly one key starting with ``$`` is a typed value:

=========================  ===============================================
``{"$tuple": [name, {f: v}]}``  a registered tuple and its fields
``{"$datetime": "iso"}``   ``datetime`` (``isoformat``)
``{"$date": "iso"}``       ``date``
``{"$bytes": "base64"}``   ``bytes``
``{"$decimal": "1.50"}``   ``Decimal``
``{"$int": "digits"}``     an int (used for ints a double cannot hold)
``{"$float": "NaN"}``      ``NaN``, ``Infinity``, ``-Infinity``
``{"$dict": {...}}``       a dict (needed when its only key starts with ``$``)
=========================  ===============================================

Run ``python -m tests.vortex.golden`` to write the file again after a deliberate change
of the wire format (and say so in the change).
"""

import base64
import datetime
import json
import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from peek_plugin_base.vortex import (
    Payload,
    PayloadEnvelope,
    Tuple,
    TupleField,
    TupleGenericAction,
    TupleSelector,
    addTupleType,
)
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.tuples import tuple_info_for_name
from peek_vortex.wire import VortexCodec

VECTORS_PATH = Path(__file__).with_name("golden_vectors.json")


class GoldenItem(Tuple):
    """A flat tuple of the vectors."""

    __tupleType__ = "golden.Item"
    id = TupleField()
    name = TupleField()
    value = TupleField()
    data = TupleField()


class GoldenHolder(Tuple):
    """A tuple holding other tuples and tagged values."""

    __tupleType__ = "golden.Holder"
    item = TupleField()
    items = TupleField(defaultValue=list)
    when = TupleField()


GOLDEN_TYPES = (GoldenItem, GoldenHolder)


def register_golden_types() -> OwnershipScope:
    """Register the vectors' tuple types; roll the returned log back to unregister them."""
    log = OwnershipScope("golden vectors")
    with owned_by(log):
        for cls in GOLDEN_TYPES:
            addTupleType(cls)
    return log


# ---- typed JSON


def build(desc: Any) -> Any:
    """The Python value a typed-JSON description stands for."""
    if isinstance(desc, list):
        return [build(v) for v in desc]
    if not isinstance(desc, dict):
        return desc
    if len(desc) == 1:
        ((key, inner),) = desc.items()
        if key.startswith("$"):
            return _build_typed(key, inner)
    return {k: build(v) for k, v in desc.items()}


def _build_typed(key: str, inner: Any) -> Any:
    if key == "$tuple":
        name, fields = inner
        info = tuple_info_for_name(name)
        assert info is not None, f"tuple type {name} is not registered"
        obj = info.new_instance()
        for field in info.resolve().fields or ():
            setattr(obj, field, build(fields[field]) if field in fields else None)
        return obj
    if key == "$datetime":
        return datetime.datetime.fromisoformat(inner)
    if key == "$date":
        return datetime.date.fromisoformat(inner)
    if key == "$bytes":
        return base64.b64decode(inner)
    if key == "$decimal":
        return Decimal(inner)
    if key == "$int":
        return int(inner)
    if key == "$float":
        return float(inner.replace("Infinity", "inf"))
    if key == "$dict":
        return {k: build(v) for k, v in inner.items()}
    raise ValueError(f"unknown typed value {key}")


def describe(value: Any) -> Any:
    """The typed-JSON description of a Python value (the inverse of :func:`build`)."""
    vtype = type(value)
    if value is None or vtype in (str, bool):
        return value
    if vtype is int:
        # Beyond 64 bits: the codec tags these (~i); JSON numbers carry the rest.
        return value if -(2**63) <= value < 2**64 else {"$int": str(value)}
    if vtype is float:
        return value if math.isfinite(value) else {
            "$float": "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")}
    if vtype in (list, tuple):
        return [describe(v) for v in value]
    if vtype is dict:
        out = {k: describe(v) for k, v in value.items()}
        if len(out) == 1 and next(iter(out)).startswith("$"):
            return {"$dict": out}
        return out
    if vtype is datetime.datetime:
        return {"$datetime": value.isoformat()}
    if vtype is datetime.date:
        return {"$date": value.isoformat()}
    if vtype is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if vtype is Decimal:
        return {"$decimal": str(value)}
    if isinstance(value, Tuple):
        return {"$tuple": [value.tupleType(),
                           {k: describe(v) for k, v in value.tupleToDict().items()}]}
    raise TypeError(f"no typed JSON for {vtype.__name__}")


def canonical(desc: Any) -> str:
    """A description as comparable text (floats keep their float-ness, key order kept)."""
    return json.dumps(desc, sort_keys=False, allow_nan=True)


# ---- messages

HEADER_FIELDS = ("filt", "messageId", "replyToId", "destVortexName", "destVortexUuid",
                 "result", "error", "originator")


def codec_for(vector: dict[str, Any]) -> VortexCodec:
    """The codec settings a vector was written with."""
    return VortexCodec(compress_threshold=vector.get("compressThreshold", 16 * 1024))


def encode(vector: dict[str, Any]) -> bytes:
    """The bytes the Python codec writes for a vector's message."""
    header = vector["header"]
    codec = codec_for(vector)
    payload = Payload(filt=header["filt"], tuples=build(vector["tuples"]),
                      result=header.get("result"))
    envelope = payload.makePayloadEnvelope(
        messageId=header.get("messageId"), replyToId=header.get("replyToId"),
        destVortexName=header.get("destVortexName"),
        destVortexUuid=header.get("destVortexUuid"), codec=codec)
    if header.get("error") is not None:
        envelope.error = tuple(header["error"])  # type: ignore[assignment]
    if header.get("originator") is not None:
        from peek_vortex.wire import Originator

        envelope.originator = Originator(*header["originator"])
    return envelope.toVortexMsg(codec)


def decode(data: bytes, vector: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """A message's header fields and tuples, described in typed JSON."""
    codec = codec_for(vector or {})
    envelope = PayloadEnvelope.fromVortexMsg(data, codec)
    tuples = envelope.decodePayload(codec).tuples
    header: dict[str, Any] = {"filt": envelope.filt}
    for field in HEADER_FIELDS[1:]:
        value = getattr(envelope, field)
        if value is not None:
            header[field] = list(value) if field in ("error", "originator") else value
    return {"header": header, "tuples": describe(tuples), "compressed": envelope.compression}


def header_of(vector: dict[str, Any]) -> dict[str, Any]:
    """A vector's header with only the fields that are set."""
    return {k: v for k, v in vector["header"].items() if v is not None}


# ---- the vectors

T = "$tuple"
UTC_MS = "2024-02-29T23:59:58.123000+00:00"


def _item(id_: Any, name: Any, value: Any = None, data: Any = None) -> dict[str, Any]:
    return {T: ["golden.Item", {"id": id_, "name": name, "value": value, "data": data}]}


def _vectors() -> list[dict[str, Any]]:
    """Every vector: header fields, tuples, and what the JavaScript codec can reproduce.

    ``jsEncode``: "exact" (the same bytes), "roundtrip" (compressed: the JS bytes decode to
    the same message; deflate streams differ between zlib settings) or "none" (JS cannot
    say the message: integral floats, ints beyond 2**53). ``jsTuples``: what JS decodes
    when it differs from ``tuples`` (datetimes in UTC milliseconds).
    """
    action = {T: ["vortex.TupleGenericAction", {
        "uuid": "6f1c9b0e-1d2e-4f50-8a9b-0c1d2e3f4a5b", "dateTime": {"$datetime": UTC_MS},
        "key": "press", "data": {"button": 2, "labels": ["a", "b"]}}]}
    many = [_item(i, f"row {i}", i / 8 + 1 / 16, {"even": i % 2 == 0, "tags": ["x"] * (i % 4)})
            for i in range(400)]
    return [
        {"name": "header only: filt", "header": {"filt": {"key": "ping"}}, "tuples": []},
        {"name": "header: every field", "header": {
            "filt": {"key": "k", "n": [1, "x", True, None, {"a": 1.5, "b": -2}]},
            "messageId": "ab12.7", "replyToId": "cd34.9", "destVortexName": "peek-client",
            "destVortexUuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "result": {"ok": [1, 2, "three"], "none": None},
            "error": ["RemoteError", "bad thing: \u00e9\u00e8"],
            "originator": ["peek-mobile", "c0ffee00-0000-4000-8000-000000000001", True]},
         "tuples": []},
        {"name": "plain rows and strings needing escapes", "header": {"filt": {"key": "rows"}},
         "tuples": [_item(1, "alpha", 0.5, None),
                    _item(2, "tab\tquote\"back\\slash\u001fctl \u00e9\u20ac\U0001f600", -1.25,
                          {"nested": {"list": [1, 2, [3, "4"]], "t": True, "f": False}})]},
        {"name": "runs of several types", "header": {"filt": {"key": "runs"}},
         "tuples": [_item(1, "a"), _item(2, "b"),
                    {T: ["golden.Holder", {"item": None, "items": [], "when": None}]},
                    _item(3, "c")]},
        {"name": "every tagged value", "header": {"filt": {"key": "tagged"}, "messageId": "m1"},
         "tuples": [{T: ["golden.Holder", {
             "item": _item(9, "nested", {"$float": "NaN"}, {"$bytes": "AAEC/f7/"}),
             "items": [{"$datetime": UTC_MS}, {"$date": "1999-12-31"},
                       {"$decimal": "1234.5000"}, {"$int": str(2**70)},
                       {"$int": str(-(2**64) - 1)}, {"$float": "Infinity"},
                       {"$float": "-Infinity"}, {"~tilde": 1},
                       {"~e": {"~x": [{"$date": "2000-01-01"}]}},
                       {"$dict": {"$dollar": "a dict whose only key starts with $"}},
                       {"$bytes": ""}],
             "when": {"$datetime": "2024-01-02T03:04:05+00:00"}}]}]},
        {"name": "nested tuple of a type first seen nested",
         "header": {"filt": {"key": "nest"}},
         "tuples": [{T: ["golden.Holder", {
             "item": _item(1, "inner"), "items": [_item(2, "in list")], "when": None}]},
             _item(3, "outer")]},
        {"name": "action request", "header": {
            "filt": {"plugin": "peek_plugin_tutorial", "key": "vortex.action.peek_plugin_tutorial"},
            "messageId": "js.0a1b2c3d4e5f.1", "destVortexName": "peek-client"},
         "tuples": [action]},
        {"name": "rpc call and answer", "header": {
            "filt": {"key": "vortex.rpc.pkg.mod.func"}, "messageId": "x.1",
            "destVortexName": "peek-client"},
         "tuples": [{T: ["vortex.rpc.Args", {"args": [1, "two", [3.5]],
                                              "kwargs": {"flag": True}}]},
                    {T: ["vortex.rpc.Result", {"result": {"answer": 42}}]}]},
        {"name": "observable update", "header": {"filt": {
            "key": "tupleDataObservable", "name": "obs", "plugin": "p", "op": "update",
            "tupleSelector": "[\"golden.Item\",{}]", "version": 7, "epoch": "e0f1"}},
         "tuples": [{T: ["vortex.TupleSelector", {"name": "golden.Item",
                                                  "selector": {"b": 1, "a": [True]}}]},
                    _item(1, "x")]},
        {"name": "error reply", "header": {"filt": {}, "replyToId": "js.1.5",
                                           "error": ["AccessDeniedError", "not for you"]},
         "tuples": []},
        {"name": "compressed body", "header": {"filt": {"key": "many"}}, "tuples": many,
         "compressThreshold": 1024, "jsEncode": "roundtrip"},
        {"name": "integral floats and ints beyond 2**53 (JS reads them, cannot write them)",
         "header": {"filt": {"key": "numbers"}},
         "tuples": [_item(2**60, "big", 1.0, [-0.0, 1e20, 2.5e-8, 9007199254740993])],
         "jsEncode": "none",
         "jsTuples": [_item(1152921504606846976, "big", 1, [0, 100000000000000000000,
                                                           2.5e-8, 9007199254740992])]},
        {"name": "datetimes JS holds in UTC milliseconds", "header": {"filt": {"key": "dt"}},
         "tuples": [{T: ["golden.Holder", {
             "item": None,
             "items": [{"$datetime": "2024-06-01T12:00:00.123456+05:30"},
                       {"$datetime": "2024-06-01T12:00:00"}],
             "when": {"$datetime": "2024-06-01T12:00:00.500000-01:00"}}]}],
         "jsEncode": "none",
         "jsTuples": [{T: ["golden.Holder", {
             "item": None,
             "items": [{"$datetime": "2024-06-01T06:30:00.123000+00:00"},
                       {"$datetime": "2024-06-01T12:00:00+00:00"}],
             "when": {"$datetime": "2024-06-01T13:00:00.500000+00:00"}}]}]},
    ]


def _selector_keys() -> list[dict[str, Any]]:
    return [
        {"selector": {T: ["vortex.TupleSelector", {"name": "golden.Item", "selector": {}}]}},
        {"selector": {T: ["vortex.TupleSelector", {"name": "n", "selector": {
            "zeta": 1, "alpha": [{"y": 2, "x": 1}], "when": {"$datetime": UTC_MS},
            "d": {"$decimal": "0.10"}, "item": _item(1, "in selector")}}]}},
    ]


def _json_dicts() -> list[dict[str, Any]]:
    return [
        {"tuple": {T: ["golden.Holder", {"item": _item(1, "inner", 0.25, {"~k": 1}),
                                          "items": [_item(2, "listed")],
                                          "when": {"$datetime": UTC_MS}}]}},
    ]


def make_vectors() -> dict[str, Any]:
    """The whole vectors document, as the Python codec writes it today."""
    log = register_golden_types()
    try:
        messages = []
        for vector in _vectors():
            vector.setdefault("jsEncode", "exact")
            data = encode(vector)
            vector["compressed"] = b'"z":"deflate"' in data.split(b"\n", 1)[0]
            vector["base64"] = base64.b64encode(data).decode("ascii")
            messages.append(vector)
        selectors = []
        for entry in _selector_keys():
            selector = build(entry["selector"])
            selectors.append({**entry, "key": selector.toJsonStr()})
        dicts = []
        for entry in _json_dicts():
            dicts.append({**entry, "jsonDict": build(entry["tuple"]).toJsonDict()})
        return {
            "about": "Golden vectors of the Peek wire format 1: see tests/vortex/golden.py",
            "types": {cls.__tupleType__: list(cls.tupleFieldNames()) for cls in GOLDEN_TYPES},
            "messages": messages, "selectorKeys": selectors, "jsonDicts": dicts,
        }
    finally:
        log.rollback()


def load_vectors() -> dict[str, Any]:
    """The committed vectors document."""
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def main() -> None:
    """Write golden_vectors.json from the current Python codec."""
    VECTORS_PATH.write_text(json.dumps(make_vectors(), indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    print(f"wrote {VECTORS_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()

# Keep TupleSelector and TupleGenericAction imported: the vectors use their wire names.
_PLATFORM_TYPES = (TupleSelector, TupleGenericAction)
