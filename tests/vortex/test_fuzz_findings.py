"""Inputs the fuzz harness (scripts/fuzz) found crashing the bus, each now refused with the
documented error: deeply nested headers and hellos."""

import json

import pytest

from peek_plugin_base.vortex import PayloadEndpoint, PayloadRouter
from peek_vortex.errors import DecodeError, VortexHelloRefusedError
from peek_vortex.routing import LocalSender
from peek_vortex.wire import MAX_HEADER_DEPTH, CloseCode, Hello, Welcome, default_codec


def nested(depth: int) -> bytes:
    """A JSON value of ``depth`` nested arrays."""
    return b"[" * depth + b"1" + b"]" * depth


def frame_with_filt_value(value: bytes) -> bytes:
    return b'{"v":1,"f":{"key":"k","x":' + value + b"}}\n"


def test_header_up_to_the_depth_limit_decodes() -> None:
    """A header nesting exactly MAX_HEADER_DEPTH levels (itself and f count) is accepted,
    one level more is a DecodeError naming the limit."""
    inside_filt = MAX_HEADER_DEPTH - 2
    header, _ = default_codec.decode_header(frame_with_filt_value(nested(inside_filt)))
    assert header["f"]["x"] == json.loads(nested(inside_filt))
    with pytest.raises(DecodeError, match=f"deeper than {MAX_HEADER_DEPTH} levels"):
        default_codec.decode_header(frame_with_filt_value(nested(inside_filt + 1)))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    """Many brackets inside string values are not nesting: such headers still decode."""
    header, _ = default_codec.decode_header(b'{"v":1,"f":{"key":"' + b"[{" * 500 + b'"}}\n')
    assert header["f"]["key"] == "[{" * 500


@pytest.mark.parametrize("where", [b'{"v":1,"f":{"key":@}}\n', b'{"v":1,"f":{"key":"k","x":@}}\n',
                                   b'{"v":1,"f":{"key":"k"},"s":@}\n'])
def test_router_refuses_deep_headers_with_decode_error(where: bytes) -> None:
    """Found by the fuzzer: a filt (or result) nested ~1,000 levels made routing and its
    error messages hit RecursionError; the router now raises DecodeError before routing."""
    router = PayloadRouter(send=lambda destination, data: None, local_vortex_names=("me",))
    seen: list[object] = []
    PayloadEndpoint({"key": "k"}, lambda **kwargs: seen.append(kwargs), router=router)
    with pytest.raises(DecodeError, match="deeper than"):
        router.receive(where.replace(b"@", nested(1000)), LocalSender("peek-client"))
    assert seen == []


@pytest.mark.parametrize("kind", [Hello, Welcome])
def test_deeply_nested_hello_is_malformed_not_a_crash(kind: type) -> None:
    """Found by the fuzzer: a first frame of ~1,200 nested arrays raised RecursionError out
    of the hello parser; it is now VortexHelloRefusedError(HELLO_MALFORMED)."""
    with pytest.raises(VortexHelloRefusedError) as caught:
        kind.decode(nested(1200))
    assert caught.value.close_code == CloseCode.HELLO_MALFORMED
