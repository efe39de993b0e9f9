"""The Python codec writes and reads exactly the golden vectors (tests/vortex/golden_vectors.json).

The browser's codec is checked against the same file in tests/browser/test_golden_browser.py.
"""

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from peek_plugin_base.vortex import Tuple
from tests.vortex.golden import (
    build,
    canonical,
    decode,
    encode,
    header_of,
    load_vectors,
    make_vectors,
    register_golden_types,
)

VECTORS = load_vectors()
MESSAGES = VECTORS["messages"]


@pytest.fixture(autouse=True)
def golden_types() -> Iterator[None]:
    """The vectors' tuple types are registered for each test, and unregistered after."""
    log = register_golden_types()
    yield
    log.rollback()


def _bytes(vector: dict[str, Any]) -> bytes:
    return base64.b64decode(vector["base64"])


@pytest.mark.parametrize("vector", MESSAGES, ids=[v["name"] for v in MESSAGES])
def test_python_codec_writes_the_vector_bytes(vector: dict[str, Any]) -> None:
    """Encoding a vector's message gives exactly its bytes (compressed ones included)."""
    assert encode(vector) == _bytes(vector)


@pytest.mark.parametrize("vector", MESSAGES, ids=[v["name"] for v in MESSAGES])
def test_python_codec_reads_the_vector_bytes(vector: dict[str, Any]) -> None:
    """Decoding a vector's bytes gives its header fields and tuples, value for value."""
    decoded = decode(_bytes(vector), vector)
    assert decoded["header"] == header_of(vector)
    assert canonical(decoded["tuples"]) == canonical(vector["tuples"])
    assert (decoded["compressed"] == "deflate") == vector["compressed"]


@pytest.mark.parametrize("entry", VECTORS["selectorKeys"], ids=lambda e: e["key"][:40])
def test_selector_keys(entry: dict[str, Any]) -> None:
    """A selector's key (sorted keys at every level, tagged values) is the pinned string."""
    assert build(entry["selector"]).toJsonStr() == entry["key"]


@pytest.mark.parametrize("entry", VECTORS["jsonDicts"])
def test_json_dicts(entry: dict[str, Any]) -> None:
    """``toJsonDict`` writes nested tuples as ``~j`` and reads them back equal."""
    obj = build(entry["tuple"])
    assert obj.toJsonDict() == entry["jsonDict"]
    assert Tuple.fromJsonDict(entry["jsonDict"]) == obj


def test_vectors_file_is_what_the_codec_writes() -> None:
    """The committed file is exactly what ``python -m tests.vortex.golden`` writes now."""
    assert make_vectors() == VECTORS


def test_vectors_cover_every_header_key_and_tag() -> None:
    """Every header key and every tagged value of the wire format occurs in some vector,
    compressed and uncompressed bodies both."""
    headers: set[str] = set()
    bodies = b""
    for vector in MESSAGES:
        head, body = _bytes(vector).split(b"\n", 1)
        headers |= set(json.loads(head))
        if not vector["compressed"]:
            bodies += body
    assert headers == set("vfmrdcsezno")
    tags = set(re.findall(rb'"(~[a-zA-Z])":', bodies))
    tags |= {b"~j"} if any("~j" in json.dumps(e) for e in VECTORS["jsonDicts"]) else set()
    assert tags >= {b"~e", b"~t", b"~d", b"~D", b"~b", b"~n", b"~i", b"~f", b"~j"}
    assert {v["compressed"] for v in MESSAGES} == {True, False}
