"""Logging in to a running server's admin site from tests, and a raw websocket client.

``login(port, password)`` posts the login form like the login page does and returns an
:class:`AdminLogin` whose ``headers()`` authenticate a request (cookie) and, for a
state-changing one, carry the admin site's Origin and the session's CSRF token.
"""

import base64
import os
import re
import secrets
import socket
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from peek_platform.admin.accounts import FIRST_PASSWORD_FILE
from tests.security.web_sites import RawResponse, raw_request

COOKIE = "peek_admin_session"
_COOKIE_VALUE = re.compile(COOKIE + r"=([^;,]*)")
_CSRF_META = re.compile(r'<meta name="peek-csrf-token" content="([^"]+)">')


def origin(port: int) -> str:
    """The admin site's own origin."""
    return f"http://127.0.0.1:{port}"


def first_password(server_home: Path) -> str:
    """The first admin's password, from the file the server wrote in its home."""
    return (server_home / FIRST_PASSWORD_FILE).read_text().strip()


def post_login(port: int, user: str, password: str, headers: tuple[tuple[str, str], ...] = (),
               send_origin: bool = True, next_path: str = "/") -> RawResponse:
    """POST the login form (as the login page does, with the site's Origin unless told not)."""
    body = urllib.parse.urlencode(
        {"username": user, "password": password, "next": next_path}).encode()
    sent = [("Content-Type", "application/x-www-form-urlencoded"), *headers]
    if send_origin:
        sent.append(("Origin", origin(port)))
    return raw_request(port, "/login", sent, method="POST", body=body)


def session_cookie(response: RawResponse) -> Optional[str]:
    """The session id a response sets (None when it sets none)."""
    match = _COOKIE_VALUE.search(response.headers.get("set-cookie", ""))
    return match.group(1) if match else None


@dataclass
class AdminLogin:
    """A logged-in admin session on the admin site at ``port``."""

    port: int
    session_id: str
    csrf_token: str
    #: The raw Set-Cookie header of the login answer (flags are checked on it).
    set_cookie: str

    def headers(self, state_changing: bool = False) -> list[tuple[str, str]]:
        """Cookie; plus Origin and X-Peek-CSRF when the request may change state."""
        sent = [("Cookie", f"{COOKIE}={self.session_id}")]
        if state_changing:
            sent += [("Origin", origin(self.port)), ("X-Peek-CSRF", self.csrf_token)]
        return sent

    def request(self, target: str, method: str = "GET", body: bytes = b"",
                extra: tuple[tuple[str, str], ...] = ()) -> RawResponse:
        """One request in this session (state-changing methods carry Origin and token)."""
        return raw_request(self.port, target,
                           [*self.headers(method not in ("GET", "HEAD")), *extra],
                           method=method, body=body)

    def logout(self) -> RawResponse:
        return self.request("/logout", "POST")


def login(port: int, password: str, user: str = "admin") -> AdminLogin:
    """Log in and read the session's CSRF token from the landing page; fails the test
    (with the answer) when the login is refused."""
    answer = post_login(port, user, password)
    session_id = session_cookie(answer)
    assert answer.status == 303 and session_id, (answer.status, answer.headers, answer.body)
    page = raw_request(port, "/", [("Cookie", f"{COOKIE}={session_id}")])
    match = _CSRF_META.search(page.body.decode())
    assert page.status == 200 and match, (page.status, page.body)
    return AdminLogin(port, session_id, match.group(1), answer.headers["set-cookie"])


class RawWebSocket:
    """A websocket client on a plain socket: the upgrade's status, then binary frames."""

    def __init__(self, port: int, path: str = "/vortexws",
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13", *(f"{k}: {v}" for k, v in headers)]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1]) if head else 0
        self._buffer = b""

    def send_binary(self, payload: bytes) -> None:
        mask = secrets.token_bytes(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x82, 0x80 | size)
        else:
            header = struct.pack("!BBH", 0x82, 0x80 | 126, size)
        self.sock.sendall(header + mask + masked)

    def _read(self, count: int) -> bytes:
        while len(self._buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("socket closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def read_frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload (pings included; 8 is a close)."""
        first, second = self._read(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read(8))[0]
        return first & 0x0F, self._read(size)

    def read_until_close(self) -> Optional[int]:
        """Read frames until a close frame; its close code (None if the socket just ended)."""
        while True:
            try:
                opcode, payload = self.read_frame()
            except (ConnectionError, OSError):
                return None
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None

    def close(self) -> None:
        self.sock.close()
