"""docs/wire-protocol.md specifies every wire constant, tag, close code and error code, the
golden vectors use every key and tag, and the browser client's copies equal the Python ones."""

import ast
import base64
import json
import re
from enum import IntEnum
from pathlib import Path
from typing import Any

import peek_vortex.wire.constants as wire
from peek_vortex import errors
from peek_vortex.wire import CloseCode
from tests.support import REPO
from tests.vortex.golden import load_vectors

SPEC = (REPO / "docs" / "wire-protocol.md").read_text()
#: The spec's inline code spans (fenced blocks left out).
SPANS = set(re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", SPEC, flags=re.M | re.S)))
JS = REPO / "platform" / "peek_vortex" / "js"
CODEC_JS = (JS / "codec.js").read_text()
CLIENT_JS = (JS / "client.js").read_text()


def _constants() -> dict[str, Any]:
    """The wire module's public constants (upper-case names), CloseCode excluded."""
    return {
        name: value for name, value in vars(wire).items()
        if name.isupper() and not (isinstance(value, type) and issubclass(value, IntEnum))
    }


def _table_rows(heading: str) -> list[list[str]]:
    """The cells of the markdown table(s) in the section whose heading starts with
    ``heading``: one list of stripped cells per body row (header and rule rows skipped)."""
    match = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", SPEC, re.M | re.S)
    assert match, f"the spec has no section {heading!r}"
    rows = []
    for line in match.group(1).splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:] if rows else rows


def _spans(cell: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", cell)


def _pairs(heading: str, prefix: str) -> set[tuple[str, str]]:
    """(value, constant name) from the rows of a section's tables whose second cell is a
    constant starting with ``prefix``."""
    pairs = set()
    for row in _table_rows(heading):
        if len(row) >= 2 and _spans(row[0]) and _spans(row[1]):
            name = _spans(row[1])[0]
            if name.startswith(prefix):
                pairs.add((_spans(row[0])[0], name))
    return pairs


def test_every_wire_constant_is_named_in_the_spec_with_its_value() -> None:
    """Every public constant of peek_vortex.wire.constants appears in the spec as a code
    span, and so does its value (each member of a collection; 0x0A for the header end)."""
    spans = SPANS
    missing = []
    for name, value in _constants().items():
        if name not in spans and f"({name})" not in SPEC:
            missing.append(name)
        values = value if isinstance(value, (tuple, frozenset)) else (value,)
        for item in values:
            text = "0x0A" if item == b"\n" else (str(item) if not isinstance(item, str) else item)
            if text not in spans and f'"{text}"' not in SPEC:
                missing.append(f"{name}={text}")
    assert not missing, f"the spec does not name: {missing}"


def test_header_key_table_is_exactly_the_header_constants() -> None:
    """The header-key table lists each H_* constant with its one-letter value, no more."""
    expected = {(v, n) for n, v in _constants().items() if n.startswith("H_")}
    assert _pairs("2. The frame", "H_") == expected
    assert {v for v, _ in expected} == set(wire.HEADER_KEYS)


def test_body_key_and_tag_tables_are_exactly_the_constants() -> None:
    """The body-key table lists each B_* constant and the tag table each TAG_* constant
    (the prefix aside), with their values."""
    constants = _constants()
    assert _pairs("3. The body", "B_") == {
        (v, n) for n, v in constants.items() if n.startswith("B_")}
    assert _pairs("3. The body", "TAG_") == {
        (v, n) for n, v in constants.items() if n.startswith("TAG_") and n != "TAG_PREFIX"}
    assert {v for v, n in _pairs("3. The body", "TAG_")} == set(wire.TAGS)


def test_close_code_table_is_exactly_close_code() -> None:
    """The close-code table lists every CloseCode member, number and name, and no other."""
    rows = {(_spans(r[0])[0], _spans(r[1])[0]) for r in _table_rows("9. Close codes")
            if len(r) >= 2 and _spans(r[0]) and _spans(r[1])}
    assert rows == {(str(int(c)), c.name) for c in CloseCode}


def test_every_error_code_is_in_the_spec() -> None:
    """Every code an error reply can carry (each class of the error tree) is named in the
    spec, and every code rebuilt from a reply has a row in the error-code table."""
    table = {_spans(r[0])[0] for r in _table_rows("5. Replies") if r and _spans(r[0])}
    assert set(errors.WIRE_ERRORS) <= table, set(errors.WIRE_ERRORS) - table
    spans = SPANS
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.VortexError):
            code = cls.__dict__.get("code")
            if isinstance(code, str):
                assert code in spans, f"{cls.__name__}'s code {code!r} is not in the spec"


def test_spec_points_at_the_golden_vectors_and_their_tests() -> None:
    """The spec names the golden vector file and both tests that check it."""
    for path in ("tests/vortex/golden_vectors.json", "tests/vortex/test_golden_vectors.py",
                 "tests/browser/test_golden_browser.py", "tests/vortex/golden.py"):
        assert f"`{path}`" in SPEC, path
        assert (REPO / path).exists(), path


def test_golden_vectors_use_every_header_key_body_key_and_tag() -> None:
    """Between them the vectors' bytes use every header key, every body key and every body
    tag of the wire module, compressed and uncompressed bodies both, and their JSON dicts
    use ``_tt`` and ``~j``."""
    vectors = load_vectors()
    headers: set[str] = set()
    body_keys: set[str] = set()
    tags: set[str] = set()
    for vector in vectors["messages"]:
        head, body = base64.b64decode(vector["base64"]).split(wire.HEADER_END, 1)
        headers |= set(json.loads(head))
        if not vector["compressed"] and body:
            doc = json.loads(body)
            body_keys |= set(doc)
            tags |= set(re.findall(r'"(~[a-zA-Z])":', body.decode()))
    assert headers == set(wire.HEADER_KEYS)
    assert body_keys == set(wire.BODY_KEYS)
    # (A dict escaped with ~e may hold other "~" keys: only the tags must all be there.)
    assert tags >= set(wire.BODY_TAGS)
    assert {v["compressed"] for v in vectors["messages"]} == {True, False}
    dicts = json.dumps(vectors["jsonDicts"])
    assert f'"{wire.JSON_DICT_TYPE}"' in dicts and f'"{wire.TAG_JSON_TUPLE}"' in dicts


def _js_const(source: str, name: str) -> str:
    match = re.search(rf"^(?:export )?const {name} = (.+?);$", source, re.M)
    assert match, f"no const {name} in the browser client"
    return match.group(1)


def test_browser_codec_constants_equal_the_python_ones() -> None:
    """codec.js's version, header depth, compression name and tag set equal the wire
    module's, and the header and body keys it reads and writes are exactly the spec's."""
    assert json.loads(_js_const(CODEC_JS, "WIRE_VERSION")) == wire.WIRE_VERSION
    assert json.loads(_js_const(CODEC_JS, "MAX_HEADER_DEPTH")) == wire.MAX_HEADER_DEPTH
    assert json.loads(_js_const(CODEC_JS, "DEFLATE")) == wire.DEFLATE
    tags = _js_const(CODEC_JS, "TAGS")
    assert set(re.findall(r'"([^"]+)"', tags)) == set(wire.TAGS)
    # Every tag the JS writes or compares is one of them.
    assert set(re.findall(r'"(~[A-Za-z])"', CODEC_JS)) == set(wire.TAGS)
    header_keys = set(re.findall(r"\bheader\.([a-z])\b", CODEC_JS))
    header_keys |= set(re.findall(r'"([a-z])"', re.search(
        r"for \(const key of (\[[^\]]*\])\)", CODEC_JS).group(1)))
    assert header_keys == set(wire.HEADER_KEYS)
    assert set(wire.STRING_HEADER_KEYS) == set(re.findall(r'"([a-z])"', re.search(
        r"for \(const key of (\[[^\]]*\])\)", CODEC_JS).group(1)))
    assert set(re.findall(r"\bdoc\.([A-Za-z])\b", CODEC_JS)) == set(wire.BODY_KEYS)
    assert f'"{wire.JSON_DICT_TYPE}"' in CODEC_JS or f"{wire.JSON_DICT_TYPE}:" in CODEC_JS


def test_browser_client_hello_and_close_codes_equal_the_python_ones() -> None:
    """client.js speaks the same hello version and keys and heartbeat key, and every close
    code it sends or treats as final is a CloseCode."""
    assert json.loads(_js_const(CLIENT_JS, "HELLO_VERSION")) == wire.HELLO_VERSION
    assert json.loads(_js_const(CLIENT_JS, "HEARTBEAT_KEY")) == wire.HEARTBEAT_KEY
    for key in (wire.HELLO_KIND, wire.HELLO, wire.WELCOME, wire.HELLO_KEY_NAME,
                wire.WELCOME_KEY_UUID, wire.WELCOME_KEY_MAX_FRAME):
        assert re.search(rf"\b{key}\b", CLIENT_JS), key
    codes = {int(c) for c in CloseCode}
    final = {int(n) for n in re.findall(r"\d+", _js_const(CLIENT_JS, "FINAL_CLOSE_CODES"))}
    assert final == {CloseCode.HELLO_MALFORMED, CloseCode.NAME_FORBIDDEN}
    sent = {int(n) for n in re.findall(r"(?:_drop\(ws, |close\([^,]*?)(\d{4})\b", CLIENT_JS)}
    assert sent and sent <= codes, sent - codes


def test_browser_error_codes_are_codes_of_the_error_tree() -> None:
    """Every error code the browser modules set or compare with is the code of a class of
    the Python error tree (so a rename in Python cannot silently split the two)."""
    tree = {cls.code for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.VortexError)
            and isinstance(cls.__dict__.get("code"), str)}
    used: set[str] = set()
    for path in JS.glob("*.js"):
        source = path.read_text()
        used |= set(re.findall(r'this\.code = "([^"]+)"', source))
        block = re.search(r"TRANSIENT_ERROR_CODES = new Set\(\[(.*?)\]\)", source, re.S)
        if block:
            used |= set(re.findall(r'"([^"]+)"', block.group(1)))
    assert used and used <= tree, used - tree


def _code_strings(path: Path) -> set[str]:
    """The string literals of a module's code (docstrings left out)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    }


def test_encoder_and_decoder_take_their_keys_from_the_wire_module() -> None:
    """codec, payload and hello spell no header key, body key, tag or hello key as a
    literal: they read them from peek_vortex.wire.constants, so the two sides of the
    wire cannot drift apart inside Python."""
    words = set(wire.HEADER_KEYS) | set(wire.BODY_KEYS) | set(wire.TAGS) | {
        wire.JSON_DICT_TYPE, wire.HELLO_KIND, wire.HELLO_KEY_VERSION, wire.HELLO_KEY_NAME,
        wire.HELLO_KEY_TOKEN, wire.WELCOME_KEY_UUID, wire.WELCOME_KEY_MAX_FRAME}
    modules = [
        REPO / "platform" / "peek_vortex" / "wire" / "_codec.py",
        REPO / "platform" / "peek_vortex" / "wire" / "_hello.py",
    ]
    for path in modules:
        literal = _code_strings(path) & words
        assert not literal, f"{path.name} spells {sorted(literal)} instead of the constants"
