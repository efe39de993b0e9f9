"""What the fuzzer feeds and what it may answer: the bus's byte-level entry points, each with
the errors its contract allows, and Hypothesis strategies that reach past the first check."""

import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from twisted.internet.task import Clock

from peek_plugin_base.vortex import Payload, PayloadEndpoint, PayloadEnvelope, PayloadRouter
from peek_vortex.errors import (
    CodecError,
    DecodeError,
    NoTransportError,
    VortexError,
    VortexHelloRefusedError,
)
from peek_vortex.tuples import Tuple, TupleField, addTupleType
from peek_vortex.wire import Hello, VortexCodec, Welcome

#: Big enough for every generated body, small enough that a decompression bomb is cheap.
MAX_INFLATED = 1 << 20
CODEC = VortexCodec(max_inflated_bytes=MAX_INFLATED)

#: Replaced in generated frames by the message id of the request the router is waiting on.
PENDING_ID = "@PENDING@"
LOCAL_NAME = "peek-server"
CONNECTED = ("peek-client", "peek-agent")
KEYS = ("fuzz.echo", "fuzz.raw", "fuzz.async", "fuzz.only", "fuzz.reply", "nobody")


class FuzzRow(Tuple):
    __tupleType__ = "fuzz.Row"
    a = TupleField()
    b = TupleField(defaultValue=list)
    c = TupleField(defaultValue=dict)


class FuzzWrapper(Tuple):
    __tupleType__ = "fuzz.Wrapper"
    inner = TupleField()


addTupleType(FuzzRow)
addTupleType(FuzzWrapper)
TYPE_FIELDS = {"fuzz.Row": ["a", "b", "c"], "fuzz.Wrapper": ["inner"]}


class OutsideContractError(Exception):
    """Something a target's contract does not allow happened where it could not propagate
    (inside a handler the router shields, or while formatting a log record)."""


class _Recorder(logging.Handler):
    """Formats every record the targets log (as a real log file would), recording failures."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.failures: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging API
        import sys

        self.failures.append(sys.exc_info()[1] or RuntimeError("log formatting failed"))


RECORDER = _Recorder()


def install_log_recorder() -> None:
    """Route every log record through the recorder only (nothing printed)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(RECORDER)
    root.setLevel(logging.DEBUG)


@dataclass(frozen=True)
class Target:
    """One entry point: ``run(data)`` may raise only ``allowed``."""

    name: str
    run: Callable[[bytes], None]
    allowed: tuple[type[BaseException], ...]
    strategy: st.SearchStrategy[bytes]


# ---- strategies

#: Characters that matter to JSON, names and UTF-8 (a lone surrogate included); a small
#: alphabet also spares Hypothesis building its full Unicode tables at start.
_CHARS = st.sampled_from([*"ak~_-. :/\"\\\n\t\x00\x7f", "\u00e9", "\u20ac", "\U0001d11e",
                          "\ud800", "\ufeff"])


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_CHARS, max_size=max_size)


def _dumps(value: Any, ascii_only: bool) -> bytes:
    # Python's json writes NaN/Infinity tokens and huge ints: inputs orjson must refuse.
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":")).encode(
        "utf-8", "surrogatepass")


_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
            | texts(12)
            | st.sampled_from(["~d", "~t", "~b", "2024-01-01T00:00:00+01:00", "NaN", "1e999"]))
_keys = texts(6) | st.sampled_from(["~d", "~D", "~b", "~n", "~i", "~f", "~t", "~e",
                                               "~j", "~x", "key", "_tt"])
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=16,
)


@st.composite
def deep(draw: st.DrawFn) -> str:
    """A JSON value nested deeper than any sane message: 1 to 1,200 levels."""
    # The limits that matter: ours (32), orjson's encoder (255) and decoder (1024), and
    # Python's recursion limit (1000).
    depth = draw(st.sampled_from([31, 32, 33, 254, 256, 900, 1000, 1023, 1024, 1025])
                 | st.integers(1, 1200))
    if draw(st.booleans()):
        return "[" * depth + "1" + "]" * depth
    return '{"k":' * depth + "1" + "}" * depth


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a few bytes replaced, inserted or deleted, or cut short."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        byte = draw(st.sampled_from([0, 10, 34, 44, 58, 91, 92, 93, 123, 125, 0x80, 0xff])
                    | st.integers(0, 255))
        if op == "set" and data:
            data[pos] = byte
        elif op == "insert":
            data.insert(pos, byte)
        elif op == "delete" and data:
            del data[pos]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A body: mostly the real shape (type table, runs, tagged values), sometimes not."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if choice == 1:
        return _dumps(draw(json_values), True)
    names = draw(st.lists(st.sampled_from([*TYPE_FIELDS, "fuzz.Unknown"]) | texts(5),
                          max_size=3))
    table = []
    for name in names:
        fields = list(TYPE_FIELDS.get(name, []))
        if draw(st.booleans()):
            fields = draw(st.lists(st.sampled_from(["a", "b", "c", "inner", "zz"]), max_size=4))
        table.append([name, fields] if draw(st.integers(0, 9)) else draw(json_values))
    runs = []
    for _ in range(draw(st.integers(0, 3))):
        run: list[Any] = [draw(st.integers(-1, 3)) if draw(st.integers(0, 9)) else draw(_scalars)]
        for _ in range(draw(st.integers(0, 3))):
            run.append(draw(st.lists(json_values, max_size=4)) if draw(st.integers(0, 5))
                       else draw(json_values))
        runs.append(run)
    doc: dict[str, Any] = {"T": table, "R": runs}
    if draw(st.booleans()):
        doc["x"] = 1
    text = _dumps(doc, draw(st.booleans()))
    if draw(st.integers(0, 7)) == 0:
        text = text.replace(b"1]", draw(deep()).encode() + b"]", 1)
    return text


@st.composite
def headers(draw: st.DrawFn, body: bytes) -> tuple[dict[str, Any], bytes]:
    """A header (nearly right most of the time) and the body it goes with (maybe deflated)."""
    filt: Any = {"key": draw(st.sampled_from(KEYS) | texts(4))}
    filt.update(draw(st.dictionaries(texts(4), json_values, max_size=3)))
    if draw(st.integers(0, 9)) == 0:
        filt = draw(json_values)
    header: dict[str, Any] = {"v": 1 if draw(st.integers(0, 9)) else draw(json_values), "f": filt}
    for key, names in (("m", ["m1", PENDING_ID]), ("r", [PENDING_ID, "x"]),
                       ("d", [LOCAL_NAME, *CONNECTED, "peek-worker", "nobody"]), ("c", ["c1"])):
        if draw(st.integers(0, 2)) == 0:
            header[key] = draw(st.sampled_from(names)) if draw(st.integers(0, 5)) else draw(
                json_values)
    if draw(st.integers(0, 3)) == 0:
        header["s"] = draw(json_values)
    if draw(st.integers(0, 4)) == 0:
        header["e"] = ([draw(texts(5)), draw(texts(5))]
                       if draw(st.booleans()) else draw(json_values))
    if body and draw(st.integers(0, 3)) == 0:
        packed = zlib.compress(body)
        header["z"] = "deflate" if draw(st.integers(0, 5)) else draw(json_values)
        header["n"] = len(body) if draw(st.integers(0, 3)) else draw(json_values)
        body = packed
    elif draw(st.integers(0, 40)) == 0:
        # A small bomb: many zeros that deflate to almost nothing.
        size = draw(st.integers(0, 2 * MAX_INFLATED))
        header.update(z="deflate", n=draw(st.sampled_from([size, 10, -1])))
        body = zlib.compress(b"\0" * size)
    if draw(st.integers(0, 5)) == 0:
        where = draw(st.sampled_from(["key", "x", "f", "s", "m"]))
        if where in ("key", "x") and type(header["f"]) is dict:
            header["f"][where] = "@DEEP@"
        else:
            header[where] = "@DEEP@"
    return header, body


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """Whole messages: header line, 0x0A, body; sometimes mutated or plain noise."""
    choice = draw(st.integers(0, 15))
    if choice == 0:
        return draw(st.binary(max_size=128))
    if choice == 1:
        # A well-formed message but for one deeply nested value where routing looks.
        where = draw(st.sampled_from(['"f":{"key":@', '"f":{"key":"fuzz.echo","x":@',
                                      '"f":{"key":"fuzz.echo"},"s":@']))
        unclosed = where.count("{") - where.count("}")
        head = '{"v":1,' + where.replace("@", draw(deep())) + "}" * (unclosed + 1)
        return head.encode() + b"\n"
    header, body = draw(headers(draw(bodies())))
    head = _dumps(header, draw(st.booleans())).replace(b'"@DEEP@"', draw(deep()).encode())
    frame = head + b"\n" + body
    if draw(st.integers(0, 5)) == 0:
        frame = draw(mutated(frame))
    return frame


@st.composite
def hellos(draw: st.DrawFn) -> bytes:
    """Hello and welcome frames, right, nearly right, deeply nested or noise."""
    choice = draw(st.integers(0, 7))
    if choice == 0:
        return draw(st.binary(max_size=96))
    if choice == 1:
        return draw(deep()).encode()
    body: dict[str, Any] = {
        "vortex": draw(st.sampled_from(["hello", "welcome"]) | json_values),
        "version": 1 if draw(st.integers(0, 5)) else draw(json_values),
        "name": draw(st.sampled_from(["peek-agent", "", "x" * 65, "a\nb"]) | json_values),
    }
    for key, value in (("token", texts(20) | json_values),
                       ("uuid", texts(8) | json_values),
                       ("maxFrameBytes", st.integers(-1, 2**40) | json_values)):
        if draw(st.booleans()):
            body[key] = draw(value)
    data = _dumps(body, draw(st.booleans()))
    if draw(st.integers(0, 3)) == 0:
        data = draw(mutated(data))
    return data


# ---- targets

def run_header(data: bytes) -> None:
    CODEC.decode_header(data)


def run_body(data: bytes) -> None:
    CODEC.decode_body(data)


def run_envelope(data: bytes) -> None:
    envelope = PayloadEnvelope.fromVortexMsg(data, CODEC)
    payload = envelope.decodePayload(CODEC)
    # What decodes must encode again: a receiver may echo or forward it.
    Payload(payload.filt, payload.tuples, payload.result).toVortexMsg(CODEC)


def run_hello(data: bytes) -> None:
    for kind in (Hello, Welcome):
        try:
            kind.decode(data)
        except VortexHelloRefusedError:
            pass


class FuzzSender:
    """A connection as the router sees it."""

    def __init__(self, name: str, uuid: str) -> None:
        self.vortex_name = name
        self.vortex_uuid = uuid


def run_router(data: bytes) -> None:
    """Feed one message to fresh routers from a service connection and from a device
    connection (the device boundary applies); handlers decode, echo and fail the way
    plugins do."""
    for device, sender in ((False, FuzzSender("peek-client", "c1")),
                           (True, FuzzSender("peek-mobile", "d1"))):
        _RouterRun(device, sender).receive(data)
    if RECORDER.failures:
        failure, RECORDER.failures[:] = RECORDER.failures[0], []
        raise OutsideContractError(f"a log record could not be formatted: {failure!r}") from failure


class _RouterRun:
    def __init__(self, device: bool, sender: FuzzSender) -> None:
        self.device = device
        self.sender = sender
        self.sent: list[tuple[Any, bytes]] = []
        self.unexpected: list[BaseException] = []
        self.router = PayloadRouter(send=self.send, clock=Clock(),
                                    local_vortex_names=(LOCAL_NAME,), codec=CODEC)
        # A request waiting on this connection, so replies (header "r") have a match.
        waiting = self.router.request(Payload({"key": "fuzz.reply"}), sender, timeout=5)
        waiting.addErrback(lambda _: None)
        self.pending_id = PayloadEnvelope.fromVortexMsg(self.sent[0][1]).messageId
        for key, callback, accept in (("fuzz.echo", self.echo, None),
                                      ("fuzz.raw", self.raw, None),
                                      ("fuzz.async", self.later, None),
                                      ("fuzz.only", self.echo, "peek-agent")):
            PayloadEndpoint({"key": key}, callback, acceptOnlyFromVortex=accept,
                            router=self.router)

    def send(self, destination: Any, data: bytes) -> None:
        if isinstance(destination, str) and destination not in CONNECTED:
            raise NoTransportError(f"no connection to vortex {destination!r}")
        # Whatever the router sends must itself be a valid message.
        PayloadEnvelope.fromVortexMsg(data)
        self.sent.append((destination, data))

    def guarded(self, step: Callable[[], Any]) -> Any:
        try:
            return step()
        except VortexError:
            raise
        except Exception as e:
            self.unexpected.append(e)
            raise

    def echo(self, payloadEnvelope: PayloadEnvelope, sendResponse: Callable[..., None],
             **_: Any) -> None:
        payload = self.guarded(payloadEnvelope.decodePayload)
        self.guarded(lambda: sendResponse(Payload(payload.filt, payload.tuples, payload.result)))

    def raw(self, payloadEnvelope: PayloadEnvelope, sendResponse: Callable[..., None],
            **_: Any) -> None:
        self.guarded(lambda: sendResponse(payloadEnvelope))

    async def later(self, payloadEnvelope: PayloadEnvelope, **_: Any) -> None:
        self.guarded(payloadEnvelope.decodePayload)

    def receive(self, data: bytes) -> None:
        data = data.replace(PENDING_ID.encode(), (self.pending_id or "").encode())
        try:
            self.router.receive(data, self.sender, device=self.device)
        finally:
            if self.unexpected:
                raise OutsideContractError(f"a handler step raised {self.unexpected[0]!r}") \
                    from self.unexpected[0]


TARGETS: dict[str, Target] = {
    t.name: t for t in (
        Target("header", run_header, (DecodeError,), frames()),
        Target("body", run_body, (DecodeError,), bodies()),
        Target("envelope", run_envelope, (CodecError,), frames()),
        Target("hello", run_hello, (), hellos()),
        Target("router", run_router, (VortexError,), frames()),
    )
}

