"""The plugin upload door on a real run_peek_server: who may upload, and what is refused.

Each refusal answers with a status and a message naming what was wrong, and nothing is
installed into the server's environment (a throwaway virtualenv layered on this one).
"""

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugin_releases import (
    UploadServer,
    multipart,
    wheel_files,
    wheel_name,
    write_sdist,
    write_wheel,
    write_zip,
    write_zip_bomb,
)
from tests.security.web_sites import raw_request

PKG = "peek_plugin_refused"
MAX_BYTES = 256 * 1024
MAX_UNPACKED = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UploadServer]:
    running = UploadServer(tmp_path_factory.mktemp("upload-door"), {
        "pluginUploadMaxBytes": MAX_BYTES, "pluginUploadMaxUnpackedBytes": MAX_UNPACKED})
    try:
        yield running
    finally:
        running.stop()


def refused(answer: Any, status: int, *expected: str) -> str:
    assert answer.status == status, (answer.status, answer.body)
    body = json.loads(answer.body)
    assert body["error"] == "PluginUploadRefused", body
    for text in expected:
        assert text in body["message"], body["message"]
    return str(body["message"])


@pytest.fixture(autouse=True)
def nothing_installed(server: UploadServer) -> Iterator[None]:
    """After every test here, the server's environment holds no refused plugin."""
    yield
    assert server.installed_here("peek_plugin_") == []


def test_upload_without_a_session_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """No session cookie: 401, whatever else the request carries; the page redirects."""
    wheel = write_wheel(tmp_path, PKG)
    answer = server.upload(wheel.name, wheel.read_bytes(), cookie=False)
    assert answer.status == 401 and b"Login required" in answer.body
    page = raw_request(server.admin_port, "/plugin-upload", [("Accept", "text/html")])
    assert page.status == 303 and page.headers["location"] == "/login?next=/plugin-upload"
    for path in ("/plugin-upload/installed", "/plugin-upload/jobs/x"):
        assert raw_request(server.admin_port, path).status == 401


def test_upload_without_csrf_token_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """A logged-in session without the CSRF token: 403 naming the token."""
    wheel = write_wheel(tmp_path, PKG)
    answer = server.upload(wheel.name, wheel.read_bytes(), csrf=False)
    assert answer.status == 403 and b"CSRF token is missing or wrong" in answer.body


def test_upload_from_a_foreign_origin_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """Session and token, but another site's Origin: 403 naming the origin check."""
    wheel = write_wheel(tmp_path, PKG)
    answer = server.upload(wheel.name, wheel.read_bytes(), origin="http://evil.example")
    assert answer.status == 403 and b"did not come from the admin site" in answer.body


def test_enable_needs_session_csrf_and_an_installed_plugin(server: UploadServer) -> None:
    """Enabling from the upload page: no token 403; a name that is not an installed plugin
    409 naming why; config.json keeps its plugin list."""
    body = json.dumps({"plugin": "twisted"}).encode()
    no_token = raw_request(server.admin_port, "/plugin-upload/enable",
                           [*server.admin.headers(), ("Origin",
                                                      f"http://127.0.0.1:{server.admin_port}")],
                           "POST", body)
    assert no_token.status == 403
    answer = server.admin.request("/plugin-upload/enable", "POST", body)
    assert answer.status == 409, answer.body
    assert "is not a Peek plugin" in json.loads(answer.body)["message"]
    bad = server.admin.request("/plugin-upload/enable", "POST", b"not json")
    assert bad.status == 400 and b'{\\"plugin\\": \\"<name>\\"}' in bad.body
    assert json.loads((server.home / "config.json").read_text())["plugin"]["enabled"] == []


def test_path_traversal_member_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """A wheel with a ``../`` member: 400 naming the member and the traversal."""
    files = wheel_files(PKG, "1.0.0", extra={"../../../../tmp/peek-owned.py": b"x = 1\n"})
    path = write_zip(tmp_path / wheel_name(PKG, "1.0.0"), files)
    refused(server.upload(path.name, path.read_bytes()), 400, "path traversal",
            "peek-owned.py")


def test_symlink_member_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """An sdist with a symlink member: 400 naming it and its target."""
    path = write_sdist(tmp_path, PKG, links={f"peek-plugin-refused-1.0.0/{PKG}/key":
                                             "/etc/ssh"})
    refused(server.upload(path.name, path.read_bytes()), 400, "is a symlink", "/etc/ssh")


def test_zip_bomb_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """A small wheel unpacking past the configured limit: 413 as an archive bomb."""
    path = write_zip_bomb(tmp_path, PKG, 2 * MAX_UNPACKED)
    assert path.stat().st_size < MAX_BYTES
    refused(server.upload(path.name, path.read_bytes()), 413, "archive bomb",
            "pluginUploadMaxUnpackedBytes")


def test_non_plugin_wheel_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """A wheel without a plugin_package.json: 400, not a plugin."""
    files = {n: d for n, d in wheel_files(PKG, "1.0.0").items()
             if not n.endswith("plugin_package.json")}
    path = write_zip(tmp_path / wheel_name(PKG, "1.0.0"), files)
    refused(server.upload(path.name, path.read_bytes()), 400, "holds no plugin package")


def test_invalid_plugin_package_json_is_refused(server: UploadServer, tmp_path: Path) -> None:
    """A plugin_package.json without requiresServices: 400 naming the file and the key."""
    path = write_wheel(tmp_path, PKG, cfg={"plugin": {"title": "x", "version": "1"}})
    refused(server.upload(path.name, path.read_bytes()), 400,
            f"{PKG}/plugin_package.json", '"requiresServices" must be a list')


def test_oversized_upload_is_refused(server: UploadServer) -> None:
    """A file larger than pluginUploadMaxBytes: 413 naming the limit and its key."""
    name = wheel_name(PKG, "1.0.0")
    refused(server.upload(name, os.urandom(MAX_BYTES + 1)), 413, f"at most {MAX_BYTES}",
            "pluginUploadMaxBytes")


def send_head(port: int, head: list[str], body: bytes = b"") -> bytes:
    """Send a request's head (and maybe part of a body), then read the whole answer
    without sending the rest: the server must answer before the body arrives."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_huge_declared_body_is_refused_before_it_is_read(server: UploadServer) -> None:
    """A logged-in upload declaring more than the upload limit, or a gigabyte (over every
    site's own limit too), is answered 413 right after its headers (the body is never read
    or stored); without a session anything over 64 KiB is 401."""
    port = server.admin_port
    common = [f"Host: 127.0.0.1:{port}", f"Origin: http://127.0.0.1:{port}",
              "Content-Type: multipart/form-data; boundary=x"]
    cookie = [f"{k}: {v}" for k, v in server.admin.headers(True)]
    answer = send_head(port, ["POST /plugin-upload HTTP/1.1", *common, *cookie,
                              "Content-Length: 1000000000"])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"httpServer.maxRequestBodyBytes" in answer
    answer = send_head(port, ["POST /plugin-upload HTTP/1.1", *common, *cookie,
                              f"Content-Length: {MAX_BYTES + 200_000}"])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"at most" in answer and b"pluginUploadMaxBytes" in answer
    answer = send_head(port, ["POST /plugin-upload HTTP/1.1", *common,
                              "Content-Length: 1000000"])
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b"Login required" in answer


def test_chunked_body_past_the_limit_is_cut_off(server: UploadServer) -> None:
    """A chunked upload (no declared length) is refused with 413 once it passes the
    limit, without the rest being sent."""
    port = server.admin_port
    cookie = [f"{k}: {v}" for k, v in server.admin.headers(True)]
    size = 2 * MAX_BYTES
    chunk = f"{size:x}\r\n".encode() + bytes(size) + b"\r\n"
    answer = send_head(port, ["POST /plugin-upload HTTP/1.1", f"Host: 127.0.0.1:{port}",
                              "Content-Type: multipart/form-data; boundary=x", *cookie,
                              "Transfer-Encoding: chunked"], chunk)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_wrong_file_type_and_form_are_refused(server: UploadServer) -> None:
    """A non-release file name is refused (400) and a body that is not a form with a file
    part is refused (415 / 400), each saying what to send."""
    refused(server.upload("plugin.exe", b"MZ"), 400, "must end in .whl, .tar.gz or .zip")
    answer = server.admin.request("/plugin-upload", "POST", b"raw bytes",
                                  (("Content-Type", "application/octet-stream"),))
    refused(answer, 415, "multipart/form-data")
    content_type, body = multipart("x.whl", b"")
    answer = server.admin.request("/plugin-upload", "POST",
                                  body.replace(b'name="file"', b'name="other"'),
                                  (("Content-Type", content_type),))
    refused(answer, 400, "no 'file' part")


def test_refusals_are_logged_with_the_reason(server: UploadServer, tmp_path: Path) -> None:
    """A release refused by the checks (here: no peek.plugins entry point) is logged on the
    server with the reason, for the admin reading the log."""
    path = write_wheel(tmp_path, PKG, entry_point=False)
    refused(server.upload(path.name, path.read_bytes()), 400, "peek.plugins entry point")
    log = server.process.log()
    assert "plugin upload refused" in log and "peek.plugins entry point" in log
