"""The bus wire format: VortexCodec (routing header, tuple bodies, tags) and the messages it
encodes: Payload (what handlers work with) and PayloadEnvelope (what travels, body left
encoded)."""

import base64
import datetime
import math
import zlib
from decimal import Decimal
from typing import Any, NamedTuple, Optional

import orjson

from peek_vortex.errors import (
    DecodeError,
    EncodeError,
    PayloadTooLargeError,
    TupleTypeError,
    UndeclaredFieldError,
    UnknownTupleTypeError,
)
from peek_vortex.tuples._tuples import (
    Tuple,
    TupleInfo,
    set_tuple_json_form,
    tuple_info_for_class,
    tuple_info_for_name,
)
from peek_vortex.wire.constants import (
    B_RUNS,
    B_TAGGED,
    B_TYPES,
    BODY_TAGS,
    DEFLATE,
    H_COMPRESSION,
    H_DEST_NAME,
    H_DEST_UUID,
    H_ERROR,
    H_FILT,
    H_INFLATED_SIZE,
    H_MESSAGE_ID,
    H_ORIGINATOR,
    H_REPLY_TO,
    H_RESULT,
    H_VERSION,
    HEADER_END,
    JSON_DICT_TYPE,
    MAX_HEADER_DEPTH,
    NON_FINITE_FLOATS,
    STRING_HEADER_KEYS,
    TAG_BIG_INT,
    TAG_BYTES,
    TAG_DATE,
    TAG_DATETIME,
    TAG_DECIMAL,
    TAG_ESCAPED_DICT,
    TAG_FLOAT,
    TAG_JSON_TUPLE,
    TAG_PREFIX,
    TAG_TUPLE,
    WIRE_VERSION,
)

# WIRE_VERSION, MAX_HEADER_DEPTH and DEFLATE are re-exported here for old imports.
# Routing walks ``f`` recursively, so headers deeper than MAX_HEADER_DEPTH are refused
# as they are read.

_HEADER_OPTS = orjson.OPT_PASSTHROUGH_DATETIME
_NONE_TYPE = type(None)
# Values the body encoder passes to orjson untouched (floats are checked for finiteness).
_PLAIN = frozenset((str, int, bool, _NONE_TYPE))
_PLAIN_EXCEPT_INT = frozenset((str, bool, _NONE_TYPE))
_CONTAINERS = frozenset((list, dict))
# Decoding plans kept per tuple type: field lists come from the wire, so the cache is bounded.
_PLANS_PER_TYPE = 8


class VortexCodec:
    """Encodes and decodes bus messages ("vortex messages"); its settings are the limits.

    Wire format, version 1
    ======================

    A message (one websocket binary frame) is::

        HEADER  0x0A  BODY

    ``HEADER`` is one compact UTF-8 JSON object (JSON escapes control characters, so it
    never contains the 0x0A byte); the header ends at the first 0x0A. Reading it never
    touches the body, so a proxy can route a message, rewrite its header and forward the
    body bytes as they are. Header keys:

    =====  =====================================================================
    ``v``  format version, always ``1`` (required)
    ``f``  the payload's ``filt``: a JSON object used for routing (required)
    ``m``  message id, set on requests that expect a reply (string)
    ``r``  reply-to: the ``m`` of the request this message answers (string)
    ``d``  destination vortex name (string)
    ``c``  destination connection uuid (string)
    ``s``  the payload's ``result``: any JSON value
    ``e``  an error as ``[code, message]`` (two strings; never a traceback)
    ``z``  body compression: absent for none, ``"deflate"`` for a zlib stream (RFC 1950)
    ``n``  with ``z``: the body's size in bytes once inflated
    ``o``  originator, ``[vortex name, connection uuid, is device]`` (two strings and a
           boolean): who really sent the message, written only by a hop that forwards
           it on someone's behalf (see :class:`~peek_vortex.wire._codec.Originator`)
    =====  =====================================================================

    Header values are JSON-native (strings, numbers, booleans, null, arrays, objects with
    string keys); non-finite floats in the header become ``null``. A header nests arrays
    and objects at most ``MAX_HEADER_DEPTH`` (32) levels deep, counting itself.

    ``BODY`` is empty when the payload has no tuples. Otherwise it is UTF-8 JSON (after
    inflating when ``z`` says so)::

        {"T": [[type name, [field, ...]], ...],          type table
         "R": [[type index, row, row, ...], ...],        runs of tuples of one type, in order
         "x": 1}                                         present only if tagged values occur

    Each row is a JSON array of the tuple's field values in the order its ``T`` entry lists
    the fields. Field values are JSON-native; other Python values are written as *tagged
    values*, a JSON object with exactly one key starting with ``~``:

    ====================  ===========================================================
    ``{"~d": "iso"}``     ``datetime`` (ISO 8601, with its UTC offset when tz-aware)
    ``{"~D": "iso"}``     ``date``
    ``{"~b": "base64"}``  ``bytes`` (standard alphabet, padded)
    ``{"~n": "1.50"}``    ``Decimal`` (exact string form)
    ``{"~i": "digits"}``  an ``int`` outside the signed/unsigned 64-bit range
    ``{"~f": "NaN"}``     a non-finite float: ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
    ``{"~t": [i, ...]}``  a nested tuple: type index into ``T``, then its field values
    ``{"~e": {...}}``     a plain dict that itself has one key starting with ``~``
    ====================  ===========================================================

    A tz-aware datetime keeps its wall time and UTC offset; a named zone (``ZoneInfo``)
    arrives as a fixed-offset ``timezone``. Ints beyond 2**53 are exact between Python
    peers but lose precision in a browser's ``JSON.parse``.

    Tagged values and escapes appear only in bodies marked ``"x": 1``; in unmarked bodies
    every value is taken literally. Dict keys are always strings and stay strings. Python
    tuples and sets are not JSON: tuples arrive as lists, sets are refused.

    Bodies of at least ``compress_threshold`` bytes are deflated (zlib, ``compress_level``)
    when that makes them smaller. A receiver refuses to inflate beyond
    ``max_inflated_bytes`` (:class:`PayloadTooLargeError`), whatever ``n`` claims.

    In a browser: split at the first byte 10, ``JSON.parse`` the header, inflate the body
    with ``new DecompressionStream("deflate")`` if ``z`` is set, then ``JSON.parse`` it.
    """

    def __init__(
        self,
        compress_threshold: int = 16 * 1024,
        compress_level: int = 1,
        max_inflated_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.compress_threshold = compress_threshold
        self.compress_level = compress_level
        self.max_inflated_bytes = max_inflated_bytes

    # ---- header

    def encode_frame(self, header: dict[str, Any], body: bytes) -> bytes:
        """Join an already-built header dict and body bytes into one message."""
        try:
            head = orjson.dumps(header, option=_HEADER_OPTS)
        except TypeError as e:
            raise EncodeError(
                f"envelope header (filt {header.get(H_FILT)!r}, result {header.get(H_RESULT)!r}) "
                f"must hold JSON-native values with string keys: {e}"
            ) from None
        return head + HEADER_END + body

    def decode_header(self, data: bytes) -> tuple[dict[str, Any], int]:
        """Parse only the header of a message; returns it and the offset of the body."""
        end = data.find(HEADER_END)
        if end < 0:
            raise DecodeError("message has no header terminator (byte 0x0A)")
        try:
            header = orjson.loads(data[:end])
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"message header is not valid JSON: {e}") from None
        if type(header) is not dict:
            raise DecodeError("message header is not a JSON object")
        # Nesting is never deeper than the bracket count: only walk a header with many.
        if (data.count(b"{", 0, end) + data.count(b"[", 0, end) > MAX_HEADER_DEPTH
                and _nesting_depth(header) > MAX_HEADER_DEPTH):
            raise DecodeError(
                f"message header nests arrays and objects deeper than {MAX_HEADER_DEPTH} levels"
            )
        get = header.get
        if len(header) == 2 and get(H_VERSION) == WIRE_VERSION and type(get(H_FILT)) is dict:
            # Only "v" and "f" (an update a proxy forwards, a subscribe): nothing else to
            # check. Same checks as below, without the lookups of absent keys.
            return header, end + 1
        if get(H_VERSION) != WIRE_VERSION:
            raise DecodeError(
                f"unsupported wire format version {get(H_VERSION)!r} "
                f"(this side speaks {WIRE_VERSION})"
            )
        if type(get(H_FILT)) is not dict:
            raise DecodeError(f"message header has no {H_FILT!r} (filt) object")
        # Called for every frame: plain lookups, no loops, in the common case.
        m, r = get(H_MESSAGE_ID), get(H_REPLY_TO)
        d, c = get(H_DEST_NAME), get(H_DEST_UUID)
        if not (
            (m is None or type(m) is str) and (r is None or type(r) is str)
            and (d is None or type(d) is str) and (c is None or type(c) is str)
        ):
            for key in STRING_HEADER_KEYS:
                value = get(key)
                if value is not None and type(value) is not str:
                    raise DecodeError(f"message header field {key!r} must be a string")
        origin = get(H_ORIGINATOR)
        if origin is not None and not (
            type(origin) is list and len(origin) == 3 and type(origin[0]) is str
            and type(origin[1]) is str and type(origin[2]) is bool
        ):
            raise DecodeError(
                "message header field 'o' must be [vortex name, connection uuid, is device]"
            )
        error = get(H_ERROR)
        if error is not None and not (
            type(error) is list and len(error) == 2 and type(error[0]) is str
            and type(error[1]) is str
        ):
            raise DecodeError("message header field 'e' must be [code, message]")
        compression = get(H_COMPRESSION)
        if compression is not None:
            if compression != DEFLATE:
                raise DecodeError(f"unknown body compression {compression!r}")
            size = get(H_INFLATED_SIZE)
            if type(size) is not int or size < 0:
                raise DecodeError("compressed message has no valid 'n' (inflated size)")
        return header, end + 1

    # ---- body compression

    def pack_body(self, body: bytes) -> tuple[bytes, Optional[str], Optional[int]]:
        """Compress a body when it is big enough and it helps: (bytes, z, n)."""
        if len(body) < self.compress_threshold:
            return body, None, None
        packed = zlib.compress(body, self.compress_level)
        if len(packed) >= len(body):
            return body, None, None
        return packed, DEFLATE, len(body)

    def unpack_body(self, body: bytes, compression: Optional[str], size: Optional[int]) -> bytes:
        """Inflate a body; no body, compressed or not, may exceed ``max_inflated_bytes``."""
        limit = self.max_inflated_bytes
        if compression is None:
            if len(body) > limit:
                raise PayloadTooLargeError(limit, len(body))
            return body
        if size is not None and size > limit:
            raise PayloadTooLargeError(limit, size)
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error as e:
            raise DecodeError(f"compressed body is corrupt: {e}") from None
        if len(out) > limit:
            raise PayloadTooLargeError(limit, size)
        if not inflater.eof:
            raise DecodeError("compressed body is truncated")
        if inflater.unused_data:
            raise DecodeError("compressed body has trailing data after its end")
        if size is not None and len(out) != size:
            raise DecodeError(f"body inflated to {len(out)} bytes, the header said {size}")
        return out

    # ---- body

    def encode_body(self, tuples: list[Any]) -> bytes:
        """Encode a list of registered tuples as an (uncompressed) body."""
        if not tuples:
            return b""
        try:
            return _BodyEncoder().encode(tuples)
        except RecursionError:
            raise EncodeError("payload values nest too deeply (or contain a cycle)") from None

    def decode_body(self, body: bytes) -> list[Any]:
        """Decode an uncompressed body into tuples of registered types."""
        if not body:
            return []
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"payload body is not valid JSON: {e}") from None
        if type(doc) is dict and len(doc) == 2:
            # The common body, one untagged run of one type (an observable's rows, an RPC
            # argument), without a decoder object; anything else is _BodyDecoder's, which
            # raises the same errors in the same order.
            types, runs = doc.get(B_TYPES), doc.get(B_RUNS)
            if (type(types) is list and len(types) == 1 and type(runs) is list
                    and len(runs) == 1):
                plan = _BodyDecoder.plan(types[0])
                run = runs[0]
                if plan[3] and type(run) is list and run and run[0] == 0 and type(run[0]) is int:
                    info, fields, _, _ = plan
                    cls, width, new = info.cls, len(fields), object.__new__
                    out: list[Any] = []
                    for row in run[1:]:
                        if type(row) is not list or len(row) != width:
                            raise DecodeError(_BodyDecoder._bad_row(info))
                        obj = new(cls)
                        obj.__dict__.update(zip(fields, row, strict=False))
                        out.append(obj)
                    return out
        try:
            return _BodyDecoder(doc).decode()
        except RecursionError:
            raise DecodeError("payload body nests values too deeply") from None


class _BodyEncoder:
    """One use: turns tuples into the body JSON, collecting the type table as it goes."""

    __slots__ = ("types", "type_index", "tagged")

    def __init__(self) -> None:
        self.types: list[list[Any]] = []
        self.type_index: dict[type, tuple[int, TupleInfo]] = {}
        self.tagged = False

    def type_of(self, obj: Any) -> tuple[int, TupleInfo]:
        cls = type(obj)
        entry = self.type_index.get(cls)
        if entry is None:
            info = tuple_info_for_class(cls)
            if info is None:
                if isinstance(obj, Tuple):
                    raise EncodeError(
                        f"tuple class {cls.__module__}.{cls.__qualname__} is not registered;"
                        " decorate it with @addTupleType"
                    )
                raise EncodeError(f"payload tuples must be Tuple instances, got {cls.__name__}")
            info.resolve()
            entry = (len(self.types), info)
            self.types.append([info.name, list(info.fields or ())])
            self.type_index[cls] = entry
        return entry

    def encode(self, tuples: list[Any], check_ints: bool = False) -> bytes:
        runs: list[list[Any]] = []
        run: list[Any] = []
        run_cls: Any = None
        plain = _PLAIN
        for obj in tuples:
            cls = type(obj)
            if cls is not run_cls:
                index, info = self.type_of(obj)
                getter = info.getter
                run = [index]
                runs.append(run)
                run_cls = cls
            row = getter(obj)
            if check_ints:
                run.append(self.convert_row(row, info, check_ints=True))
                continue
            for value in row:
                vtype = type(value)
                if vtype in plain:
                    continue
                if vtype is float and value - value == 0.0:
                    continue
                row = self.convert_row(row, info)
                break
            run.append(row)
        doc: dict[str, Any] = {B_TYPES: self.types, B_RUNS: runs}
        if self.tagged:
            doc[B_TAGGED] = 1
        try:
            return orjson.dumps(doc)
        except orjson.JSONEncodeError as e:
            if check_ints or "Integer exceeds" not in str(e):
                raise EncodeError(f"cannot encode payload: {e}") from None
        # A rare int beyond 64 bits: start again with every int range-checked and tagged.
        return type(self)().encode(tuples, check_ints=True)

    def convert_row(self, row: Any, info: Optional[TupleInfo], check_ints: bool = False) -> list:
        fields = info.fields if info is not None else None
        out = []
        plain = _PLAIN if not check_ints else _PLAIN_EXCEPT_INT
        for position, value in enumerate(row):
            if type(value) in plain:
                out.append(value)
                continue
            try:
                out.append(self.convert(value, check_ints))
            except EncodeError as e:
                if fields is None:
                    raise
                raise EncodeError(
                    f"tuple type {info.name!r} field {fields[position]!r}: {e}"
                ) from None
        return out

    def convert(self, value: Any, check_ints: bool = False) -> Any:
        vtype = type(value)
        if vtype is str or vtype is bool or value is None:
            return value
        if vtype is int:
            if check_ints and not (-(2**63) <= value < 2**64):
                self.tagged = True
                return {TAG_BIG_INT: str(value)}
            return value
        if vtype is float:
            if value - value == 0.0:
                return value
            self.tagged = True
            return {TAG_FLOAT: NON_FINITE_FLOATS[0] if value != value
                    else (NON_FINITE_FLOATS[1] if value > 0 else NON_FINITE_FLOATS[2])}
        if vtype is list or vtype is tuple:
            plain = _PLAIN if not check_ints else _PLAIN_EXCEPT_INT
            convert = self.convert
            return [v if type(v) in plain else convert(v, check_ints) for v in value]
        if vtype is dict:
            out = {}
            for k, v in value.items():
                if type(k) is not str:
                    raise EncodeError(f"dict keys must be strings, got {type(k).__name__} {k!r}")
                out[k] = self.convert(v, check_ints)
            if len(out) == 1 and next(iter(out)).startswith(TAG_PREFIX):
                self.tagged = True
                return {TAG_ESCAPED_DICT: out}
            return out
        self.tagged = True
        if vtype is datetime.datetime:
            return {TAG_DATETIME: value.isoformat()}
        if vtype is datetime.date:
            return {TAG_DATE: value.isoformat()}
        if vtype is bytes or vtype is bytearray or vtype is memoryview:
            return {TAG_BYTES: base64.b64encode(value).decode("ascii")}
        if vtype is Decimal:
            return {TAG_DECIMAL: str(value)}
        if isinstance(value, Tuple):
            index, info = self.type_of(value)
            return {TAG_TUPLE: [index, *self.convert_row(info.getter(value), info, check_ints)]}
        # Subclasses (IntEnum, StrEnum, ...) travel as their base JSON value.
        for base in (bool, int, float, str):
            if isinstance(value, base):
                return self.convert(base(value), check_ints)
        raise EncodeError(f"cannot encode a value of type {vtype.__name__}: {value!r:.80}")


class _BodyDecoder:
    """One use: turns a parsed body document into tuples, checking it on the way."""

    __slots__ = ("plans", "runs", "tagged")

    def __init__(self, doc: Any) -> None:
        if type(doc) is not dict:
            raise DecodeError("payload body is not a JSON object")
        types = doc.get(B_TYPES)
        runs = doc.get(B_RUNS)
        if type(types) is not list or type(runs) is not list:
            raise DecodeError("payload body needs a 'T' list (types) and an 'R' list (rows)")
        self.tagged = doc.get(B_TAGGED) == 1
        self.runs = runs
        self.plans = [self.plan(entry) for entry in types]

    @staticmethod
    def plan(entry: Any) -> tuple[TupleInfo, tuple[str, ...], list[tuple[str, Any]], bool]:
        """(info, wire fields, missing TupleFields to default, fields identical to declared).

        Plans are cached on the registered TupleInfo, so a type unregistered (or registered
        again) never reuses an old plan; a few field lists per type at most.
        """
        if type(entry) is list and len(entry) == 2:
            # The cache first: a cached field list was checked when it was cached, and a
            # wire list equal to it is that list (no other JSON value equals a string).
            name, wire_fields = entry
            if type(name) is str and type(wire_fields) is list:
                info = tuple_info_for_name(name)
                if info is not None:
                    try:
                        cached = info.decode_plans.get(tuple(wire_fields))
                    except TypeError:  # an unhashable "field": refused below
                        cached = None
                    if cached is not None:
                        return cached
        if (
            type(entry) is not list
            or len(entry) != 2
            or type(entry[0]) is not str
            or type(entry[1]) is not list
            or not all(type(f) is str for f in entry[1])
        ):
            raise DecodeError("payload type table entries must be [type name, [field, ...]]")
        name, wire_fields = entry
        info = tuple_info_for_name(name)
        if info is None:
            raise UnknownTupleTypeError(name)
        fields = tuple(wire_fields)
        cached = info.decode_plans.get(fields)
        if cached is not None:
            return cached
        plan = _BodyDecoder._make_plan(info, name, fields)
        if len(info.decode_plans) < _PLANS_PER_TYPE:
            info.decode_plans[fields] = plan
        return plan

    @staticmethod
    def _make_plan(
        info: TupleInfo, name: str, fields: tuple[str, ...]
    ) -> tuple[TupleInfo, tuple[str, ...], list[tuple[str, Any]], bool]:
        try:
            info.resolve()
        except TupleTypeError as e:
            raise DecodeError(str(e)) from None
        for field in fields:
            if field not in info.field_set:
                raise UndeclaredFieldError(name, field)
        if len(set(fields)) != len(fields):
            raise DecodeError(f"tuple type {name!r} lists a field twice on the wire")
        missing = [(k, f) for k, f in info.tuple_fields if k not in fields]
        return info, fields, missing, fields == info.fields and info.fast

    def decode(self) -> list[Any]:
        out: list[Any] = []
        append = out.append
        new = object.__new__
        for run in self.runs:
            if type(run) is not list or not run or type(run[0]) is not int:
                raise DecodeError("payload rows must be runs [type index, row, ...]")
            plan = self._plan_at(run[0])
            info, fields, missing, fast = plan
            cls = info.cls
            width = len(fields)
            rows = iter(run)
            next(rows)
            if fast and not self.tagged:
                for row in rows:
                    if type(row) is not list or len(row) != width:
                        raise DecodeError(self._bad_row(info))
                    obj = new(cls)
                    obj.__dict__.update(zip(fields, row, strict=False))
                    append(obj)
                continue
            for row in rows:
                append(self.build(plan, row))
        return out

    def _plan_at(self, index: int) -> tuple:
        if not 0 <= index < len(self.plans):
            raise DecodeError(f"payload refers to type index {index}, which the table lacks")
        return self.plans[index]

    @staticmethod
    def _bad_row(info: TupleInfo) -> str:
        return f"a row of tuple type {info.name!r} is not an array of its fields"

    def build(self, plan: tuple, row: Any) -> Any:
        info, fields, missing, fast = plan
        if type(row) is not list or len(row) != len(fields):
            raise DecodeError(self._bad_row(info))
        if self.tagged:
            value = self.value
            row = [v if type(v) not in _CONTAINERS else value(v) for v in row]
        obj = info.new_instance()
        if fast:
            obj.__dict__.update(zip(fields, row, strict=False))
        else:
            for field, value in zip(fields, row, strict=False):
                setattr(obj, field, value)
        for field, declared in missing:
            setattr(obj, field, declared.makeDefault())
        return obj

    def value(self, value: Any) -> Any:
        vtype = type(value)
        convert = self.value
        if vtype is list:
            return [v if type(v) not in _CONTAINERS else convert(v) for v in value]
        if vtype is not dict:
            return value
        if len(value) == 1:
            tag, inner = next(iter(value.items()))
            if tag.startswith(TAG_PREFIX):
                return self.untag(tag, inner)
        return {k: v if type(v) not in _CONTAINERS else convert(v) for k, v in value.items()}

    def untag(self, tag: str, inner: Any) -> Any:
        if tag not in BODY_TAGS:
            raise DecodeError(f"unknown tagged value {tag!r}")
        try:
            if tag == TAG_ESCAPED_DICT:
                if type(inner) is not dict:
                    raise ValueError("escaped dict is not an object")
                return {k: self.value(v) for k, v in inner.items()}
            if tag == TAG_TUPLE:
                if type(inner) is not list or not inner or type(inner[0]) is not int:
                    raise ValueError("nested tuple is not [type index, values...]")
                return self.build(self._plan_at(inner[0]), inner[1:])
            if type(inner) is not str:
                raise ValueError("tagged value is not a string")
            if tag == TAG_DATETIME:
                return datetime.datetime.fromisoformat(inner)
            if tag == TAG_DATE:
                return datetime.date.fromisoformat(inner)
            if tag == TAG_BYTES:
                return base64.b64decode(inner, validate=True)
            if tag == TAG_DECIMAL:
                return Decimal(inner)
            if tag == TAG_BIG_INT:
                return int(inner)
            if tag == TAG_FLOAT:
                if inner not in NON_FINITE_FLOATS:
                    raise ValueError(f"{inner!r} is not a non-finite float")
                return math.nan if inner == "NaN" else float(inner.replace("Infinity", "inf"))
        except DecodeError:
            raise
        except (ValueError, ArithmeticError) as e:
            raise DecodeError(f"bad tagged value {tag!r}: {e}") from None
        raise DecodeError(f"unknown tagged value {tag!r}")


def _nesting_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        itype = type(item)
        if itype is dict:
            children = item.values()
        elif itype is list:
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _is_plain(value: Any) -> bool:
    """True when orjson writes ``value`` exactly as the body encoder would, untagged."""
    vtype = type(value)
    if vtype is str or vtype is int or vtype is bool or value is None:
        return True
    if vtype is float:
        return value - value == 0.0
    if vtype is list or vtype is tuple:
        for item in value:
            # Scalars inline: RPC arguments are mostly flat lists of them.
            itype = type(item)
            if itype is str or itype is int or itype is bool or item is None:
                continue
            if not _is_plain(item):
                return False
        return True
    if vtype is dict:
        if not value:
            return True
        if len(value) == 1 and str(next(iter(value))).startswith(TAG_PREFIX):
            return False  # the encoder escapes these
        for key, item in value.items():
            if type(key) is not str:
                return False
            itype = type(item)
            if itype is str or itype is int or itype is bool or item is None:
                continue
            if not _is_plain(item):
                return False
        return True
    return False


def plain_row_body(table: list[list[Any]], row: list[Any]) -> Optional[bytes]:
    """The body of ONE tuple given as its row, if every value is JSON-native; else None.

    ``table`` is the body's type table for that tuple's type (``[[name, [fields]]]``, the
    fields in declared order). The bytes are exactly what ``encode_body`` writes for the
    tuple, without building it: the RPC layer sends calls and answers this way. None
    means a value needs a tag (datetime, bytes, Decimal, non-finite float, a tuple, ...)
    or is not encodable at all: use ``encode_body``, which tags it or says what is wrong.
    """
    try:
        if not _is_plain(row):
            return None
        return orjson.dumps({B_TYPES: table, B_RUNS: [[0, row]]})
    except (RecursionError, orjson.JSONEncodeError):  # very deep nesting, ints beyond 64 bits
        return None


def read_plain_row(body: bytes, table: list[list[Any]]) -> Optional[list[Any]]:
    """The row of a body holding exactly one untagged tuple of ``table``'s type, else None.

    The counterpart of :func:`plain_row_body` (any encoder's body of that shape is read);
    None means the body is something else: ``decode_body`` reads it or says what is wrong.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or len(doc) != 2 or doc.get(B_TYPES) != table:
        return None
    runs = doc.get(B_RUNS)
    if type(runs) is not list or len(runs) != 1:
        return None
    run = runs[0]
    if type(run) is not list or len(run) != 2 or run[0] != 0 or type(run[0]) is not int:
        return None
    row = run[1]
    if type(row) is not list or len(row) != len(table[0][1]):
        return None
    return row


#: The codec with the wire's default settings, used when none is given (a plugin's own
#: ``Payload(...).toVortexMsg()``). Configured limits belong to a router: its ``codec``
#: encodes what it sends and decodes what it receives; nothing changes this one.
default_codec = VortexCodec()


def tuple_to_json_dict(obj: Tuple) -> dict[str, Any]:
    """``{"_tt": type name, field: value}`` with values in their tagged wire forms.

    Nested tuples are written as ``{"~j": {nested tuple's JSON dict}}`` (not type indexes),
    so the result stands alone.
    """
    info = tuple_info_for_class(type(obj))
    if info is None:
        raise EncodeError(
            f"tuple class {type(obj).__qualname__} is not registered; use @addTupleType"
        )
    info.resolve()
    encoder = _JsonDictEncoder()
    out: dict[str, Any] = {JSON_DICT_TYPE: info.name}
    for field, value in zip(info.fields or (), info.getter(obj), strict=True):
        try:
            out[field] = encoder.convert(value, check_ints=True)
        except EncodeError as e:
            raise EncodeError(f"tuple type {info.name!r} field {field!r}: {e}") from None
    return out


class _JsonDictEncoder(_BodyEncoder):
    """Like the body encoder, but nested tuples become standalone ``_tt`` dicts."""

    def convert(self, value: Any, check_ints: bool = False) -> Any:
        if isinstance(value, Tuple):
            return {TAG_JSON_TUPLE: tuple_to_json_dict(value)}
        return super().convert(value, check_ints)


def tuple_from_json_dict(json_dict: dict[str, Any]) -> Tuple:
    """Rebuild a registered tuple from :func:`tuple_to_json_dict` output."""
    if type(json_dict) is not dict or type(json_dict.get(JSON_DICT_TYPE)) is not str:
        raise DecodeError("a tuple JSON dict needs a '_tt' type name")
    name = json_dict[JSON_DICT_TYPE]
    fields = [k for k in json_dict if k != JSON_DICT_TYPE]
    decoder = _JsonDictDecoder({B_TYPES: [[name, fields]], B_RUNS: []})
    return decoder.build(decoder.plans[0], [json_dict[k] for k in fields])


class _JsonDictDecoder(_BodyDecoder):
    """Decodes standalone tuple dicts; values are always read as possibly tagged."""

    def __init__(self, doc: Any) -> None:
        super().__init__(doc)
        self.tagged = True

    def untag(self, tag: str, inner: Any) -> Any:
        if tag == TAG_JSON_TUPLE:
            return tuple_from_json_dict(inner)
        return super().untag(tag, inner)


class _WireJsonForm:
    """The JSON-dict form behind ``Tuple.toJsonDict`` and ``Tuple.fromJsonDict``."""

    to_json_dict = staticmethod(tuple_to_json_dict)
    from_json_dict = staticmethod(tuple_from_json_dict)


# The tuples never import the wire (it imports them): it hands them its JSON form instead.
set_tuple_json_form(_WireJsonForm())


class Originator(NamedTuple):
    """Who really sent a message: the first hop's view of the connection it came from.

    The first hop (the process whose connection received the message from its author)
    stamps it from that connection's authenticated identity: ``vortexName`` (the name
    the peer authenticated as), ``vortexUuid`` (the connection's uuid) and ``isDevice``
    (it arrived on a client service's device websocket). A hop that forwards a message on
    someone's behalf (an action proxy, a :class:`~peek_vortex.handlers._device_forwarder.
    DeviceForwarder`) keeps the stamp and writes it into the header (key ``o``); the next
    hop keeps a stamp only when it arrives over an authenticated service connection, and
    replaces any stamp a device sends. Like Crossbar's ``forward_for``: handlers and
    ``acceptOnlyFromVortex`` see the originator, never just the last hop.
    """

    vortexName: str
    vortexUuid: str
    isDevice: bool


class Payload:
    """A message as handlers see it: a routing ``filt``, decoded ``tuples`` and a ``result``.

    ``filt`` and ``result`` travel in the envelope header, so they must be JSON-native
    (see :class:`~peek_vortex.wire._codec.VortexCodec`); ``tuples`` are registered
    :class:`~peek_vortex.tuples._tuples.Tuple` instances.
    """

    __slots__ = ("filt", "tuples", "result")

    def __init__(
        self,
        filt: Optional[dict[str, Any]] = None,
        tuples: Optional[list[Any]] = None,
        result: Any = None,
    ) -> None:
        self.filt: dict[str, Any] = {} if filt is None else filt
        self.tuples: list[Any] = [] if tuples is None else tuples
        self.result = result

    def toEncodedPayload(self, codec: Optional[VortexCodec] = None) -> bytes:
        """The encoded (uncompressed) body of this payload's tuples."""
        return (codec or default_codec).encode_body(self.tuples)

    def makePayloadEnvelope(
        self,
        messageId: Optional[str] = None,
        replyToId: Optional[str] = None,
        destVortexName: Optional[str] = None,
        destVortexUuid: Optional[str] = None,
        codec: Optional[VortexCodec] = None,
        originator: Optional[Originator] = None,
    ) -> "PayloadEnvelope":
        """Encode the tuples once and wrap them in an envelope (compressed if large)."""
        codec = codec or default_codec
        body, compression, size = codec.pack_body(codec.encode_body(self.tuples))
        return PayloadEnvelope(
            filt=self.filt,
            encodedPayload=body,
            result=self.result,
            messageId=messageId,
            replyToId=replyToId,
            destVortexName=destVortexName,
            destVortexUuid=destVortexUuid,
            compression=compression,
            inflatedSize=size,
            originator=originator,
        )

    def toVortexMsg(self, codec: Optional[VortexCodec] = None, **envelopeArgs: Any) -> bytes:
        """The complete message bytes (envelope header and body) for this payload."""
        return self.makePayloadEnvelope(codec=codec, **envelopeArgs).toVortexMsg(codec)

    makePayloadEnvelopeVortexMsg = toVortexMsg

    @staticmethod
    def fromVortexMsg(vortexMsg: bytes, codec: Optional[VortexCodec] = None) -> "Payload":
        """Decode a complete message into a Payload (header and tuples)."""
        return PayloadEnvelope.fromVortexMsg(vortexMsg, codec).decodePayload(codec)

    def __repr__(self) -> str:
        return f"Payload(filt={self.filt!r}, tuples=<{len(self.tuples)}>, result={self.result!r})"


class PayloadEnvelope:
    """A message as it travels: routing header fields plus the body as opaque bytes.

    ``encodedPayload`` holds the body exactly as on the wire (deflated when
    ``compression`` is ``"deflate"``), so forwarding an envelope never re-encodes tuples.
    ``error`` is ``(code, message)`` when the sender reports a failure. ``originator``
    is who really sent it (:class:`Originator`): on a received envelope, the router's
    stamp; on an envelope being sent, set only when forwarding on someone's behalf (it is
    then written as header ``o``).

    ``vortexMsg`` is, on a received envelope, the complete message bytes exactly as they
    arrived (None on an envelope built locally): an endpoint callback that forwards the
    message can send them on instead of encoding it again, see :meth:`forwardMsg`.

    A received envelope remembers the codec it was read with (the receiving router's,
    ``router.codec``): :meth:`decodePayload` without a codec inflates within that codec's
    limit.
    """

    __slots__ = (
        "filt", "encodedPayload", "result", "error", "messageId", "replyToId",
        "destVortexName", "destVortexUuid", "compression", "inflatedSize", "_originator",
        "_sender", "vortexMsg", "_arrivedHeader", "_codec",
    )

    def __init__(
        self,
        filt: Optional[dict[str, Any]] = None,
        encodedPayload: bytes = b"",
        result: Any = None,
        error: Optional[tuple[str, str]] = None,
        messageId: Optional[str] = None,
        replyToId: Optional[str] = None,
        destVortexName: Optional[str] = None,
        destVortexUuid: Optional[str] = None,
        compression: Optional[str] = None,
        inflatedSize: Optional[int] = None,
        originator: Optional[Originator] = None,
    ) -> None:
        self.filt: dict[str, Any] = {} if filt is None else filt
        self.encodedPayload = encodedPayload
        self.result = result
        self.error = error
        self.messageId = messageId
        self.replyToId = replyToId
        self.destVortexName = destVortexName
        self.destVortexUuid = destVortexUuid
        self.compression = compression
        self.inflatedSize = inflatedSize
        self._originator = originator
        # The service connection a received envelope came from, when it carried no stamp:
        # the stamp is then built from it only if someone asks (most handlers never do).
        self._sender: Any = None
        self.vortexMsg: Optional[bytes] = None
        self._arrivedHeader: Optional[dict[str, Any]] = None
        self._codec: Optional[VortexCodec] = None

    @property
    def originator(self) -> Optional[Originator]:
        """Who really sent this message (see :class:`Originator`); None if nobody knows."""
        origin = self._originator
        if origin is None:
            sender = self._sender
            if sender is not None:
                origin = self._originator = Originator(
                    sender.vortex_name, sender.vortex_uuid, False
                )
        return origin

    @originator.setter
    def originator(self, value: Optional[Originator]) -> None:
        self._originator = value
        self._sender = None

    def stamp_sender(self, sender: Any) -> None:
        """Mark a received envelope without a stamp as sent by service connection ``sender``."""
        self._sender = sender

    def header(self) -> dict[str, Any]:
        """The header dict as written on the wire (absent fields omitted)."""
        header: dict[str, Any] = {H_VERSION: WIRE_VERSION, H_FILT: self.filt}
        if self.messageId is not None:
            header[H_MESSAGE_ID] = self.messageId
        if self.replyToId is not None:
            header[H_REPLY_TO] = self.replyToId
        if self.destVortexName is not None:
            header[H_DEST_NAME] = self.destVortexName
        if self.destVortexUuid is not None:
            header[H_DEST_UUID] = self.destVortexUuid
        if self.result is not None:
            header[H_RESULT] = self.result
        if self.error is not None:
            code, message = self.error
            header[H_ERROR] = [str(code), str(message)]
        if self.compression is not None:
            if self.compression != DEFLATE or self.inflatedSize is None:
                raise EncodeError("a compressed envelope needs compression 'deflate' and a size")
            header[H_COMPRESSION] = self.compression
            header[H_INFLATED_SIZE] = self.inflatedSize
        if self._originator is not None:
            header[H_ORIGINATOR] = list(self._originator)
        return header

    def toVortexMsg(self, codec: Optional[VortexCodec] = None) -> bytes:
        """The message bytes: header line plus the body as it is."""
        return (codec or default_codec).encode_frame(self.header(), self.encodedPayload)

    def forwardMsg(self, codec: Optional[VortexCodec] = None) -> bytes:
        """This envelope's bytes as the forwarding hop's own message (no ``o``, ``m``, ``r``).

        Clears the originator, message id and reply-to, then returns the bytes that
        arrived when their header already says exactly what this envelope now holds (the
        common case: an observable update from the upstream, forwarded to N devices),
        and the re-encoded message otherwise (a stamp, an id or a changed field to drop
        or rewrite). Either way the result decodes to the same message as
        :meth:`toVortexMsg` would write; the body bytes are never touched.
        """
        self.originator = None
        self.messageId = self.replyToId = None
        arrived = self._arrivedHeader
        if arrived is not None and self.vortexMsg is not None and self.header() == arrived:
            return self.vortexMsg
        return self.toVortexMsg(codec)

    @classmethod
    def fromVortexMsg(
        cls, vortexMsg: bytes, codec: Optional[VortexCodec] = None
    ) -> "PayloadEnvelope":
        """Read the header of a message; the body stays encoded until :meth:`decodePayload`."""
        header, offset = (codec or default_codec).decode_header(vortexMsg)
        # Built slot by slot: this runs for every received frame.
        envelope = cls.__new__(cls)
        envelope.filt = header[H_FILT]
        envelope.encodedPayload = bytes(vortexMsg[offset:])
        envelope._sender = None
        envelope.vortexMsg = vortexMsg
        envelope._arrivedHeader = header
        envelope._codec = codec
        if len(header) == 2:
            # "v" and "f" only (decode_header checked them): every other field is absent.
            envelope.result = envelope.error = envelope.messageId = None
            envelope.replyToId = envelope.destVortexName = envelope.destVortexUuid = None
            envelope.compression = envelope.inflatedSize = envelope._originator = None
            return envelope
        get = header.get
        error = get(H_ERROR)
        envelope.result = get(H_RESULT)
        envelope.error = (error[0], error[1]) if error is not None else None
        envelope.messageId = get(H_MESSAGE_ID)
        envelope.replyToId = get(H_REPLY_TO)
        envelope.destVortexName = get(H_DEST_NAME)
        envelope.destVortexUuid = get(H_DEST_UUID)
        envelope.compression = get(H_COMPRESSION)
        envelope.inflatedSize = get(H_INFLATED_SIZE)
        origin = get(H_ORIGINATOR)
        envelope._originator = Originator(*origin) if origin is not None else None
        return envelope

    def decodePayload(self, codec: Optional[VortexCodec] = None) -> Payload:
        """Inflate (within the codec's cap) and decode the body into a Payload.

        Without ``codec``: the codec the envelope was read with, else the wire's defaults.
        """
        codec = codec or self._codec or default_codec
        body = codec.unpack_body(self.encodedPayload, self.compression, self.inflatedSize)
        return Payload(filt=self.filt, tuples=codec.decode_body(body), result=self.result)

    def isEmpty(self) -> bool:
        """True when the envelope carries no tuples."""
        return not self.encodedPayload

    def __repr__(self) -> str:
        return (
            f"PayloadEnvelope(filt={self.filt!r}, body={len(self.encodedPayload)} B, "
            f"m={self.messageId!r}, r={self.replyToId!r}, d={self.destVortexName!r}, "
            f"result={self.result!r}, error={self.error!r})"
        )
