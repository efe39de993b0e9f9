"""The JavaScript codec served at /peek/vortex.js writes and reads the golden vectors.

The page is on a real client service's mobile site and imports the modules the service
serves; the vectors are the ones the Python codec is pinned to
(tests/vortex/test_golden_vectors.py), so both codecs speak the same bytes.
"""

import base64
from pathlib import Path
from typing import Any

from tests.browser.conftest import load_vortex
from tests.vortex.golden import canonical, decode, header_of, load_vectors, register_golden_types

GOLDEN_CHECK = (Path(__file__).with_name("golden_check.js")).read_text(encoding="utf-8")


def test_js_codec_matches_every_golden_vector(peek_platform: Any, browser_page: Any) -> None:
    """Every vector decodes in the browser to its header and values; every vector the JS
    types can say encodes to exactly its bytes; compressed bodies written by the browser's
    CompressionStream decode in Python to the same message; selector keys and JSON dicts
    (``~j``) are the same strings."""
    vectors = load_vectors()
    load_vortex(browser_page, peek_platform.mobile_url)
    results = browser_page.evaluate(GOLDEN_CHECK, vectors)
    assert len(results) == (len(vectors["messages"]) + len(vectors["selectorKeys"])
                            + len(vectors["jsonDicts"]))
    problems = {r["name"]: r["problems"] for r in results if r["problems"]}
    assert not problems

    log = register_golden_types()
    try:
        by_name = {r["name"]: r for r in results}
        checked = 0
        for vector in vectors["messages"]:
            if vector["jsEncode"] != "roundtrip":
                continue
            js_bytes = base64.b64decode(by_name[vector["name"]]["encoded"])
            assert js_bytes != base64.b64decode(vector["base64"])  # another deflate stream
            decoded = decode(js_bytes, vector)
            assert decoded["compressed"] == "deflate"
            assert decoded["header"] == header_of(vector)
            assert canonical(decoded["tuples"]) == canonical(vector["tuples"])
            checked += 1
        assert checked
    finally:
        log.rollback()
