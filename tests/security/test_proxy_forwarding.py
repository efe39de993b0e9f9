"""The observable proxy forwards the upstream's bytes to devices, but never an originator
stamp, message id or reply-to: rewriting only what must change keeps the stamp rules."""

from typing import Any

import orjson

from peek_plugin_base.testing import MemoryNode
from peek_plugin_base.vortex import (
    Payload,
    PayloadEnvelope,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
)
from peek_vortex.handlers import ObservableMessages
from peek_vortex.wire import Originator
from tests.vortex_observables.harness import (
    FILT,
    OBSERVABLE,
    ItemTuple,
    Platform,
    record,
    selector,
    sent_by,
    values,
)

MESSAGES = ObservableMessages(OBSERVABLE, FILT)


def header_of(data: bytes) -> dict[str, Any]:
    return orjson.loads(data[: data.index(b"\n")])


def proxied(p: Platform, count: int) -> tuple[MemoryNode, list[MemoryNode], list[list]]:
    """A client service proxying the observable to ``count`` devices, each observing "a"."""
    client = p.bus.node("peek-client")
    p.link(client, p.server)
    TupleDataObservableProxyHandler(OBSERVABLE, "peek-server", FILT, router=client.router)
    devices = [p.bus.node("peek-mobile", device=True) for _ in range(count)]
    seen = []
    for device in devices:
        p.link(device, client)
        observer = TupleDataObserverClient(OBSERVABLE, "peek-client", FILT, router=device.router)
        seen.append(record(observer.subscribeToTupleSelector(selector("a"))))
    p.settle()
    return client, devices, seen


def stamped_update(p: Platform, version: int, origin: Originator) -> bytes:
    """A real update of selector "a" (the server's epoch) carrying an ``o`` stamp."""
    assert p.handler is not None
    data = MESSAGES.update(Payload(tuples=[ItemTuple(value="stamped")]),
                           selector("a").toJsonStr(), version, p.handler.epoch)
    envelope = PayloadEnvelope.fromVortexMsg(data)
    envelope.originator = origin
    return envelope.toVortexMsg()


def test_devices_get_the_very_bytes_the_server_sent() -> None:
    """An update reaches every device as the bytes the server wrote (no re-encode on the
    client service), and they carry no stamp, id or reply-to."""
    p = Platform()
    p.store.set("a", [1])
    client, devices, seen = proxied(p, 3)
    from_server = sent_by(p.server)
    to_devices = sent_by(client)
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    updates = [data for dest, data in from_server if header_of(data)["f"]["op"] == "update"]
    assert len(updates) == 1
    assert [data for _, data in to_devices] == updates * 3
    # Not merely equal: the same bytes object, never decoded and encoded again.
    assert all(data is updates[0] for _, data in to_devices)
    assert not {"o", "m", "r"} & header_of(updates[0]).keys()
    assert [[values(t) for t in s] for s in seen] == [[[1], [2]]] * 3


def test_a_service_stamp_on_an_update_is_not_forwarded_to_devices() -> None:
    """An update whose header claims a service as originator (not a stamp a service may
    carry) is the server's own; devices get it rewritten without ``o``."""
    p = Platform()
    p.store.set("a", [1])
    client, devices, seen = proxied(p, 2)
    to_devices = sent_by(client)
    p.server.router.send(
        stamped_update(p, 10**6, Originator("peek-server", "forged", False)), "peek-client")
    p.settle()
    assert len(to_devices) == 2
    for _, data in to_devices:
        assert "o" not in header_of(data)
    assert [values(s[-1]) for s in seen] == [["stamped"], ["stamped"]]


def test_a_device_stamp_on_an_update_reaches_no_device() -> None:
    """An update carrying a device's stamp is that device's message, not the upstream's:
    the proxy takes updates only from the upstream, so no device gets it."""
    p = Platform()
    p.store.set("a", [1])
    client, devices, seen = proxied(p, 2)
    to_devices = sent_by(client)
    p.server.router.send(
        stamped_update(p, 10**6, Originator("peek-mobile", "some-device", True)),
        "peek-client")
    p.settle()
    assert to_devices == []
    assert [[values(t) for t in s] for s in seen] == [[[1]], [[1]]]
