"""The wire format: round trips of every value kind, limits, and errors on bad input."""

import datetime
import math
import zlib
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peek_plugin_base.vortex import Payload, PayloadEnvelope, Tuple, TupleField, addTupleType
from peek_vortex.errors import (
    DecodeError,
    EncodeError,
    PayloadTooLargeError,
    UndeclaredFieldError,
    UnknownTupleTypeError,
)
from peek_vortex.routing import LocalSender, PayloadEndpoint, PayloadRouter
from peek_vortex.tuples import removeTupleType, tuple_info_for_name
from peek_vortex.wire import VortexCodec, plain_row_body, read_plain_row


class Row(Tuple):
    __tupleType__ = "test.codec.Row"
    a = TupleField()
    b = TupleField()
    c = TupleField(defaultValue=list)


class Wrapper(Tuple):
    __tupleType__ = "test.codec.Wrapper"
    inner = TupleField()


@pytest.fixture(scope="module", autouse=True)
def _types():
    addTupleType(Row)
    addTupleType(Wrapper)
    yield
    removeTupleType(Row)
    removeTupleType(Wrapper)


def round_trip(tuples, codec=None, **kwargs):
    msg = Payload({"key": "k"}, tuples, **kwargs).toVortexMsg(codec)
    return Payload.fromVortexMsg(msg, codec)


def same(x, y) -> bool:
    """Equality that also holds for NaN and checks exact types (1 vs 1.0 vs True)."""
    if type(x) is not type(y):
        return False
    if isinstance(x, float) and math.isnan(x):
        return math.isnan(y)
    if isinstance(x, list):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, Tuple):
        return all(same(getattr(x, f), getattr(y, f)) for f in x.tupleFieldNames())
    if isinstance(x, datetime.datetime):
        # The wire keeps the wall time and UTC offset (zone names become fixed offsets).
        return x.replace(tzinfo=None) == y.replace(tzinfo=None) and x.utcoffset() == y.utcoffset()
    return x == y


def test_every_value_kind_round_trips():
    """Native and tagged values, nested tuples and tag-lookalike dicts come back exactly."""
    aware = datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone(
        datetime.timedelta(hours=10)))
    values = [
        None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**70), 1.5, -0.0,
        float("inf"), float("-inf"), "", "tekst ✓", b"\x00\xff", bytearray(b"ab"),
        aware, datetime.datetime(2024, 1, 1, 8, 0), datetime.date(2020, 1, 2),
        Decimal("12345678901234567890.000001"), [1, [2, [3]]], {"1": 1, "007": "x", "": None},
        {"~d": "not a date"}, {"~": 1}, {"~e": {"~e": 1}}, Row(a=Row(a=1)),
    ]
    tuples = [Row(a=v, b=[v], c={"v": v}) for v in values]
    back = round_trip(tuples).tuples
    for sent, got in zip(tuples, back, strict=True):
        expected = sent.a if not isinstance(sent.a, bytearray) else bytes(sent.a)
        assert same(got.a, expected), (sent.a, got.a)
        assert same(got.c, {"v": expected})
    nan = round_trip([Row(a=float("nan"))]).tuples[0].a
    assert math.isnan(nan)


def test_plain_payload_has_no_tags_and_python_tuples_become_lists():
    """A payload of JSON-native values is written without the tag marker; tuples -> lists."""
    msg = Payload({"key": "k"}, [Row(a=1, b="x", c=(1, 2))]).toVortexMsg()
    header, body = msg.split(b"\n", 1)
    assert orjson.loads(body) == {
        "T": [["test.codec.Row", ["a", "b", "c"]]],
        "R": [[0, [1, "x", [1, 2]]]],
    }
    assert Payload.fromVortexMsg(msg).tuples == [Row(a=1, b="x", c=[1, 2])]


def test_type_runs_keep_order_of_mixed_types():
    """Tuples of different types interleaved come back in the order they were sent."""
    tuples = [Row(a=1), Wrapper(inner=2), Wrapper(inner=3), Row(a=4)]
    assert round_trip(tuples).tuples == tuples


json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.binary(max_size=20) | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.none() | st.timezones()) | st.dates()
)
values = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(values, values), max_size=8), st.sampled_from([0, 10**9]))
def test_property_round_trip(rows, threshold):
    """Any mix of supported values survives encode+decode, compressed or not."""
    codec = VortexCodec(compress_threshold=threshold)
    tuples = [Row(a=a, b=b) for a, b in rows]
    back = round_trip(tuples, codec, result={"ok": True})
    assert back.result == {"ok": True}
    assert len(back.tuples) == len(tuples)
    for sent, got in zip(tuples, back.tuples, strict=True):
        assert same(got, sent)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_property_garbage_never_crashes(data):
    """Random bytes either decode or raise DecodeError, never anything else."""
    try:
        PayloadEnvelope.fromVortexMsg(data).decodePayload()
    except DecodeError:
        pass


def test_unknown_type_is_a_clear_error():
    """A body naming an unregistered type fails with its name, building nothing."""
    msg = b'{"v":1,"f":{"key":"k"}}\n{"T":[["evil.Thing",["x"]]],"R":[[0,[1]]]}'
    with pytest.raises(UnknownTupleTypeError, match="'evil.Thing'"):
        Payload.fromVortexMsg(msg)


def test_undeclared_field_is_a_clear_error():
    """The wire may not set fields the type does not declare (not even methods)."""
    for field in ("tupleType", "zzz", "__class__"):
        msg = orjson.dumps({"v": 1, "f": {"key": "k"}}) + b"\n" + orjson.dumps(
            {"T": [["test.codec.Row", ["a", field]]], "R": [[0, [1, 2]]]}
        )
        expected = f"'test.codec.Row' has no declared field '{field}'"
        with pytest.raises(UndeclaredFieldError, match=expected):
            Payload.fromVortexMsg(msg)


def test_missing_fields_get_defaults():
    """A sender with fewer fields (older version) yields tuples with declared defaults."""
    msg = b'{"v":1,"f":{"key":"k"}}\n{"T":[["test.codec.Row",["b"]]],"R":[[0,[5]]]}'
    (row,) = Payload.fromVortexMsg(msg).tuples
    assert (row.a, row.b, row.c) == (None, 5, [])


@pytest.mark.parametrize(
    "body, message",
    [
        (b"[1]", "not a JSON object"),
        (b'{"T":[],"R":[[3,[1]]]}', "type index 3"),
        (b'{"T":[["test.codec.Row",["a"]]],"R":[[0,[1,2]]]}', "not an array of its fields"),
        (b'{"T":[["test.codec.Row",["a"]]],"R":[[0,"ab"]]}', "not an array of its fields"),
        (b'{"T":[["test.codec.Row",["a","a"]]],"R":[]}', "twice"),
        (b'{"T":[["test.codec.Row",["a"]]],"R":[[0,[{"~q":1}]]],"x":1}', "unknown tagged value"),
        (b'{"T":[["test.codec.Row",["a"]]],"R":[[0,[{"~d":"nope"}]]],"x":1}', "bad tagged"),
        (b'{"T":[["test.codec.Row",["a"]]],"R":[[0,[{"~f":"1.0"}]]],"x":1}', "bad tagged"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_malformed_bodies(body, message):
    """Structurally wrong bodies raise DecodeError saying what is wrong."""
    with pytest.raises(DecodeError, match=message):
        Payload.fromVortexMsg(b'{"v":1,"f":{"key":"k"}}\n' + body)


@pytest.mark.parametrize(
    "msg, message",
    [
        (b"no newline", "terminator"),
        (b'{"v":2,"f":{}}\n', "version 2"),
        (b'{"v":1}\n', "'f'"),
        (b'{"v":1,"f":{},"m":5}\n', "'m'"),
        (b'{"v":1,"f":{},"e":["x"]}\n', "'e'"),
        (b'{"v":1,"f":{},"z":"gzip"}\n', "compression"),
        (b'{"v":1,"f":{},"z":"deflate"}\n', "'n'"),
    ],
)
def test_malformed_headers(msg, message):
    """Bad headers are refused with a message naming the problem."""
    with pytest.raises(DecodeError, match=message):
        PayloadEnvelope.fromVortexMsg(msg)


def test_header_is_readable_without_decoding_the_body():
    """Routing data comes from the header alone: the body may name unknown types or be
    garbage, and forwarding keeps the body bytes identical while the header changes."""
    body = zlib.compress(b'{"T":[["nobody.Knows",["x"]]],"R":[[0,[1]]]}')
    msg = orjson.dumps(
        {"v": 1, "f": {"key": "k", "n": 1}, "m": "id1", "d": "peek-server", "s": [1],
         "z": "deflate", "n": 999}
    ) + b"\n" + body
    env = PayloadEnvelope.fromVortexMsg(msg)
    assert (env.filt, env.messageId, env.destVortexName, env.result) == (
        {"key": "k", "n": 1}, "id1", "peek-server", [1])
    env.destVortexName = None
    env.replyToId = "x"
    forwarded = env.toVortexMsg()
    assert forwarded.endswith(b"\n" + body)
    assert PayloadEnvelope.fromVortexMsg(forwarded).replyToId == "x"


def test_compression_only_above_threshold():
    """Small bodies travel as plain JSON; large ones are deflated and marked in the header."""
    codec = VortexCodec(compress_threshold=4096)
    small = Payload({"key": "k"}, [Row(a=i) for i in range(5)]).makePayloadEnvelope(codec=codec)
    big = Payload({"key": "k"}, [Row(a=i, b="x" * 20) for i in range(2000)])
    big_env = big.makePayloadEnvelope(codec=codec)
    assert small.compression is None and small.encodedPayload.startswith(b"{")
    assert big_env.compression == "deflate"
    assert big_env.inflatedSize > len(big_env.encodedPayload) * 3
    assert b'"z":"deflate"' in big_env.toVortexMsg(codec)
    assert Payload.fromVortexMsg(big_env.toVortexMsg(codec), codec).tuples == big.tuples


def _bomb(size: int, claimed: int) -> bytes:
    body = zlib.compress(b" " * size, 9)
    header = {"v": 1, "f": {"key": "k"}, "z": "deflate", "n": claimed}
    return orjson.dumps(header) + b"\n" + body


def test_zip_bomb_is_refused_within_the_cap():
    """A small frame that inflates past the cap is refused, whether the header admits the
    size or lies about it; only cap+1 bytes are ever inflated."""
    codec = VortexCodec(max_inflated_bytes=1024 * 1024)
    honest = _bomb(50 * 1024 * 1024, 50 * 1024 * 1024)
    assert len(honest) < 100_000
    with pytest.raises(PayloadTooLargeError, match="1048576 bytes"):
        PayloadEnvelope.fromVortexMsg(honest, codec).decodePayload(codec)
    liar = _bomb(50 * 1024 * 1024, 10)
    with pytest.raises(PayloadTooLargeError):
        PayloadEnvelope.fromVortexMsg(liar, codec).decodePayload(codec)


def test_corrupt_and_inconsistent_compressed_bodies():
    """Corrupt, truncated, padded or mis-sized deflate bodies are DecodeErrors."""
    good = zlib.compress(b'{"T":[],"R":[]}')
    cases = [
        (b"garbage", 10, "corrupt"),
        (good[:-3], 15, "truncated"),
        (good + b"extra", 15, "trailing"),
        (good, 99, "header said 99"),
    ]
    for body, n, message in cases:
        msg = orjson.dumps({"v": 1, "f": {}, "z": "deflate", "n": n}) + b"\n" + body
        with pytest.raises(DecodeError, match=message):
            PayloadEnvelope.fromVortexMsg(msg).decodePayload()


def test_encode_errors_name_type_and_field():
    """Unsupported values, non-string keys, unregistered classes and non-native headers fail
    with a message naming what is wrong."""
    with pytest.raises(EncodeError, match="'test.codec.Row' field 'b'.*set"):
        Payload({"key": "k"}, [Row(a=1, b={1, 2})]).toVortexMsg()
    with pytest.raises(EncodeError, match="field 'c'.*keys must be strings"):
        Payload({"key": "k"}, [Row(c={1: "x"})]).toVortexMsg()

    class Unregistered(Tuple):
        __tupleType__ = "test.codec.Unregistered"

    with pytest.raises(EncodeError, match="not registered"):
        Payload({"key": "k"}, [Unregistered()]).toVortexMsg()
    with pytest.raises(EncodeError, match="must be Tuple instances"):
        Payload({"key": "k"}, [{"a": 1}]).toVortexMsg()
    with pytest.raises(EncodeError, match="JSON-native"):
        Payload({"key": Decimal(1)}, []).toVortexMsg()
    with pytest.raises(EncodeError, match="JSON-native"):
        Payload({"key": "k"}, [], result=datetime.datetime(2020, 1, 1)).toVortexMsg()


def test_empty_payload_has_empty_body():
    """No tuples: the message is the header line only."""
    msg = Payload({"key": "k"}, result="done").toVortexMsg()
    assert msg == b'{"v":1,"f":{"key":"k"},"s":"done"}\n'
    back = Payload.fromVortexMsg(msg)
    assert (back.tuples, back.result) == ([], "done")


def test_uncompressed_body_over_the_cap_is_refused():
    """The inflated-size cap also bounds bodies sent without compression."""
    codec = VortexCodec(max_inflated_bytes=1000, compress_threshold=10**9)
    msg = Payload({"key": "k"}, [Row(a="x" * 2000)]).toVortexMsg(codec)
    with pytest.raises(PayloadTooLargeError, match="1000 bytes"):
        Payload.fromVortexMsg(msg, codec)


def test_a_received_envelope_decodes_within_its_routers_codec():
    """A router's codec sets the limit for what it receives: an endpoint's plain
    ``decodePayload()`` refuses a body over that router's cap, while another router (and a
    payload decoded without one) keep the wire's default limit."""
    decoded = []

    def handle(payloadEnvelope, **_):
        try:
            decoded.append(payloadEnvelope.decodePayload().tuples[0].a)
        except PayloadTooLargeError as e:
            decoded.append(e)

    strict = PayloadRouter(local_vortex_names=("peek-server",),
                           codec=VortexCodec(max_inflated_bytes=500))
    lenient = PayloadRouter(local_vortex_names=("peek-server",))
    msg = Payload({"key": "k"}, [Row(a="x" * 600)]).toVortexMsg()
    for router in (strict, lenient):
        PayloadEndpoint({"key": "k"}, handle, router=router)
        router.receive(msg, LocalSender("peek-agent", "a1"))
    assert isinstance(decoded[0], PayloadTooLargeError) and "500 bytes" in str(decoded[0])
    assert decoded[1] == "x" * 600
    assert Payload.fromVortexMsg(msg).tuples[0].a == "x" * 600


def test_decode_plans_are_cached_per_wire_field_list_and_bounded():
    """Bodies listing a type's fields in other orders or subsets decode right every time
    (each field list has its own cached plan), and the plan cache stays bounded however
    many field lists the wire brings."""
    info = tuple_info_for_name(Row.__tupleType__)
    info.decode_plans.clear()
    orders = [["a", "b", "c"], ["c", "b", "a"], ["b"], ["a", "c"], ["c"], ["b", "a"],
              ["a"], ["c", "a"], ["b", "c"], ["a", "b"], ["c", "a", "b"]]
    for _ in range(2):
        for fields in orders:
            values = {"a": 1, "b": "two", "c": [3]}
            body = orjson.dumps({"T": [["test.codec.Row", fields]],
                                 "R": [[0, [values[f] for f in fields]]]})
            (row,) = VortexCodec().decode_body(body)
            expected = Row(**{f: values[f] for f in fields})
            assert row == expected, fields
    assert len(info.decode_plans) == 8


PLAIN_TABLE = [["test.codec.Row", ["a", "b", "c"]]]


@pytest.mark.parametrize("row", [
    [1, "two", [3.5, None, True]],
    [{"k": {"n": [1, 2]}}, (1, 2), {}],
    [-(2**63), 2**64 - 1, ""],
])
def test_plain_row_body_writes_what_the_encoder_writes(row):
    """A row of JSON-native values gives byte for byte the body of the equivalent tuple,
    and read_plain_row gives the row back (tuples as lists)."""
    body = plain_row_body(PLAIN_TABLE, row)
    assert body == VortexCodec().encode_body([Row(a=row[0], b=row[1], c=row[2])])
    assert read_plain_row(body, PLAIN_TABLE) == orjson.loads(orjson.dumps(row))


@pytest.mark.parametrize("value", [
    math.nan, math.inf, datetime.datetime(2026, 1, 1), b"x", Decimal("1"), 2**64,
    Row(a=1), {1: "non-string key"}, {"~d": "escaped"}, {1, 2}, [[[math.nan]]],
])
def test_plain_row_body_declines_values_that_need_the_encoder(value):
    """Values the encoder tags, escapes or refuses are declined (None): the caller then
    takes the tuple path, which tags them or raises."""
    assert plain_row_body(PLAIN_TABLE, [value, None, None]) is None


@pytest.mark.parametrize("body", [
    b"not json",
    orjson.dumps({"T": PLAIN_TABLE, "R": [[0, [1, 2, 3]]], "x": 1}),
    orjson.dumps({"T": PLAIN_TABLE, "R": [[0, [1, 2, 3], [4, 5, 6]]]}),
    orjson.dumps({"T": PLAIN_TABLE, "R": [[0, [1, 2]]]}),
    orjson.dumps({"T": [["test.codec.Wrapper", ["inner"]]], "R": [[0, [1]]]}),
    orjson.dumps({"T": PLAIN_TABLE, "R": [[1, [1, 2, 3]]]}),
    orjson.dumps({"T": PLAIN_TABLE, "R": [[True, [1, 2, 3]]]}),
])
def test_read_plain_row_declines_every_other_body(body):
    """Tagged bodies, several tuples, wrong widths, other types and bad indexes are not
    read as a plain row (the full decoder handles or refuses them)."""
    assert read_plain_row(body, PLAIN_TABLE) is None


@pytest.mark.parametrize("body", [
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[0,[1,"x",[2]],[3,"y",[]]]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[0]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[0,[1,"x"]]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[0,[1,"x",[2]],"row"]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[1,[1,"x",[2]]]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[true,[1,"x",[2]]]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[0.0,[1,"x",[2]]]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[7]}',
    b'{"T":[["test.codec.Row",["c","b","a"]]],"R":[[0,[[2],"x",1]]]}',
    b'{"T":[["test.codec.Row",["a"]]],"R":[[0,[1]]]}',
    b'{"T":[["test.codec.Row",["a","b",1]]],"R":[[0,[1,"x",[2]]]]}',
    b'{"T":[["test.codec.Row",["a","b",["c"]]]],"R":[[0,[1,"x",[2]]]]}',
    b'{"T":[["test.codec.Row",["a","b","c","d"]]],"R":[[0,[1,"x",[2],4]]]}',
    b'{"T":[["no.such.Type",["a"]]],"R":[[0,[1]]]}',
    b'{"T":[["test.codec.Row"]],"R":[[0,[1]]]}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[[0,[1,"x",{"~d":"2020-01-01"}]]],"x":1}',
    b'{"T":[["test.codec.Row",["a","b","c"]]],"Q":[[0,[1,"x",[2]]]]}',
])
def test_one_run_bodies_decode_as_the_general_decoder_does(body):
    """The short path for a body of one untagged run of one type gives the same tuples,
    or the same error, as the general decoder, for that shape and every shape near it
    (checked with the type's decoding plan cached, as it is after the first body)."""
    from peek_vortex.wire._codec import _BodyDecoder

    def outcome(decode):
        try:
            tuples = decode()
        except Exception as e:
            return (type(e), str(e))
        return [(type(t), t.tupleToDict()) for t in tuples]

    VortexCodec().decode_body(b'{"T":[["test.codec.Row",["a","b","c"]]],"R":[]}')
    general = outcome(lambda: _BodyDecoder(orjson.loads(body)).decode())
    assert outcome(lambda: VortexCodec().decode_body(body)) == general


@pytest.mark.parametrize("msg", [
    b'{"v":1,"f":{"key":"k"}}\n',
    b'{"f":{"key":"k"},"v":1}\nbody',
])
def test_header_of_version_and_filt_only_reads_as_every_header(msg):
    """A header holding only ``v`` and ``f`` gives an envelope whose other fields are all
    absent, exactly as the general reading of a header gives them."""
    envelope = PayloadEnvelope.fromVortexMsg(msg)
    assert (envelope.filt, envelope.encodedPayload) == ({"key": "k"}, msg.split(b"\n", 1)[1])
    assert (envelope.result, envelope.error, envelope.messageId, envelope.replyToId,
            envelope.destVortexName, envelope.destVortexUuid, envelope.compression,
            envelope.inflatedSize, envelope.originator) == (None,) * 9
    assert envelope.vortexMsg is msg and envelope.forwardMsg() == msg
