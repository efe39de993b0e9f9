"""Pages for the bus client tests: the tutorial's tuple classes in JS, and a page server
that does not depend on the client service being up (so a test can stop it and reload)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from peek_platform.web.peek_static import JS_DIR

#: Run in a page after ``window.vortex`` is set: the tutorial's tuple classes, declared in
#: JavaScript as a plugin UI declares them, on ``window.tutorial``.
TUTORIAL_TYPES = """() => {
    const v = window.vortex;
    if (window.tutorial) return;
    class StringIntTuple extends v.Tuple {
        static tupleType = "peek_plugin_tutorial.StringIntTuple";
        id = null; string1 = null; int1 = null;
    }
    class AddIntValueActionTuple extends v.TupleActionABC {
        static tupleType = "peek_plugin_tutorial.AddIntValueActionTuple";
        stringIntId = null; offset = null;
    }
    for (const cls of [StringIntTuple, AddIntValueActionTuple]) v.addTupleType(cls);
    const filt = {plugin: "peek_plugin_tutorial"};
    window.tutorial = {
        StringIntTuple, AddIntValueActionTuple, filt,
        selector: v.TupleSelector.of("peek_plugin_tutorial.StringIntTuple"),
        rows: (tuples) => tuples.map((t) => [t.id, t.string1, t.int1]),
    };
}"""

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>bus client test page</title></head>
<body><script type="module">
window.vortex = await import("/peek/vortex.js");
window.dispatchEvent(new Event("vortex-loaded"));
</script></body></html>
"""


class PageServer:
    """A small HTTP server of the test page (``/``) and the bus client's modules from disk
    (``/peek/*.js``), on 127.0.0.1: pages load from it whether or not the client service
    runs, as an installed app loads from its service worker's cache; their websocket goes
    to the real client service (``VortexClient({url})``)."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, PAGE, "text/html; charset=utf-8")
            return
        name = path[len("/peek/"):] if path.startswith("/peek/") else ""
        target = JS_DIR / name
        if not name or "/" in name or not target.is_file():
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, target.read_bytes(), "text/javascript; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
        pass


def open_test_page(page: Any, site_url: str) -> None:
    """Load the test page (from a :class:`PageServer` at ``site_url``) with the bus
    client as ``window.vortex`` and the tutorial types as ``window.tutorial``."""
    page.goto(site_url + "/")
    page.wait_for_function("() => window.vortex !== undefined", timeout=20_000)
    page.evaluate(TUTORIAL_TYPES)
