"""Every site bounds a request body by httpServer.maxRequestBodyBytes, chunked bodies
included: on 95f840f a chunked body (no Content-Length) passed the site cap untouched and
was spooled whole before any resource could refuse it."""

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource
from twisted.web.server import Request

from peek_platform.web.guard import ConnectionGate, GuardedSite

LIMIT = 1000


class _Recorder(Resource):
    """Answers with the size of the body it was handed; remembers every call."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[int] = []

    def render_POST(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        size = len(request.content.read())
        self.bodies.append(size)
        return b"got %d" % size


def _site() -> tuple[GuardedSite, _Recorder]:
    clock = Clock()
    recorder = _Recorder()
    site = GuardedSite(recorder, ConnectionGate(clock=clock), header_timeout=5,
                       reactor=clock, max_body_bytes=LIMIT)
    return site, recorder


def _connect(site: GuardedSite) -> tuple[Any, StringTransport]:
    peer = IPv4Address("TCP", "10.0.0.9", 40000)
    protocol = site.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    protocol.makeConnection(transport)
    return protocol, transport


def _chunks(total: int, size: int = 300) -> list[bytes]:
    out = []
    while total > 0:
        part = min(size, total)
        out.append(b"%x\r\n%s\r\n" % (part, b"a" * part))
        total -= part
    return out


CHUNKED_HEAD = b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_chunked_body_over_the_site_cap_is_cut_off_when_it_passes_it() -> None:
    """A chunked body is answered 413 naming httpServer.maxRequestBodyBytes as soon as
    it passes the cap; the connection closes, what still arrives is dropped, and the
    resource is never called."""
    site, recorder = _site()
    protocol, transport = _connect(site)
    protocol.dataReceived(CHUNKED_HEAD)
    chunks = _chunks(3 * LIMIT)
    for chunk in chunks[:4]:  # 1200 bytes: past the cap on the 4th chunk
        protocol.dataReceived(chunk)
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"httpServer.maxRequestBodyBytes" in answer and b"%d" % LIMIT in answer
    assert transport.disconnecting
    for chunk in chunks[4:] + [b"0\r\n\r\n"]:
        protocol.dataReceived(chunk)
    assert transport.value() == answer
    assert recorder.bodies == []


def test_chunked_refusal_in_one_read_never_reaches_the_resource() -> None:
    """A whole over-cap chunked request arriving in one read, terminator included, is
    refused and never handed to the resource."""
    site, recorder = _site()
    protocol, transport = _connect(site)
    protocol.dataReceived(CHUNKED_HEAD + b"".join(_chunks(2 * LIMIT)) + b"0\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert recorder.bodies == []


def test_declared_length_over_the_cap_is_refused_before_the_body() -> None:
    """A Content-Length over the cap is answered 413 right after the headers."""
    site, recorder = _site()
    protocol, transport = _connect(site)
    protocol.dataReceived(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                          % (LIMIT + 1))
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert transport.disconnecting and recorder.bodies == []


def test_bodies_within_the_cap_are_served_whole() -> None:
    """A chunked body and a declared one of exactly the cap reach the resource whole."""
    site, recorder = _site()
    protocol, transport = _connect(site)
    protocol.dataReceived(CHUNKED_HEAD + b"".join(_chunks(LIMIT)) + b"0\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 200 "), transport.value()
    protocol, transport = _connect(site)
    protocol.dataReceived(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                          % (LIMIT, b"b" * LIMIT))
    assert transport.value().startswith(b"HTTP/1.1 200 "), transport.value()
    assert recorder.bodies == [LIMIT, LIMIT]
