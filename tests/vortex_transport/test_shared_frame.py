"""The fan-out write path: a payload framed once is byte for byte autobahn's frame, and the
autobahn attributes it relies on still exist (this fails loudly when autobahn changes)."""

from typing import Any

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import TrafficStats

from peek_vortex.transport import VortexClientProtocol, VortexServerProtocol, binary_frame


def autobahn_frame(data: bytes) -> bytes:
    """What autobahn's own sendMessage writes for ``data`` on a server connection."""
    protocol = WebSocketServerProtocol()
    protocol.factory = WebSocketServerFactory("ws://127.0.0.1")
    protocol.factory.setProtocolOptions()
    for name, value in protocol.factory.__dict__.items():
        if name in protocol.CONFIG_ATTRS:
            setattr(protocol, name, value)
    protocol.state = protocol.STATE_OPEN
    protocol.trafficStats = TrafficStats()
    protocol.trackedTimings = None
    protocol._perMessageCompress = None
    written: list[bytes] = []

    def capture(raw: bytes, sync: bool = False, chopsize: Any = None) -> None:
        written.append(raw)

    protocol.sendData = capture  # type: ignore[method-assign]
    protocol.sendMessage(data, isBinary=True)
    assert len(written) == 1
    return written[0]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_frame_equals_autobahns(size: int) -> None:
    """Every length encoding (7 bit, 16 bit, 64 bit) gives autobahn's exact bytes."""
    data = bytes(i % 251 for i in range(size))
    assert binary_frame(data) == autobahn_frame(data)


@pytest.mark.parametrize("cls", [VortexServerProtocol, VortexClientProtocol])
def test_autobahn_attributes_the_fast_path_reads_exist(cls: type) -> None:
    """send_binary and onMessageEnd read these autobahn names; a rename must fail here,
    not silently take a wrong path."""
    for name in ("STATE_OPEN", "sendMessage", "sendData", "onMessageEnd", "_onMessage"):
        assert hasattr(cls, name), name
    assert "maskServerFrames" in WebSocketServerProtocol.CONFIG_ATTRS
    for name in ("autoFragmentSize", "logFrames", "maxMessagePayloadSize"):
        assert name in WebSocketServerProtocol.CONFIG_ATTRS_COMMON, name
    # onMessageEnd skips fire("message") only while these class defaults say "nobody".
    assert cls._listeners is None and cls._parent is None
    for name in ("outgoingWebSocketMessages", "outgoingOctetsAppLevel",
                 "outgoingOctetsWebSocketLevel", "outgoingWebSocketFrames"):
        assert hasattr(TrafficStats(), name), name
