"""Subscribers take updates only from the connection they subscribed through, and resync
(poll) instead of taking an update that jumps far ahead of the version they hold."""

import logging
from typing import Any

import pytest

from peek_plugin_base.testing import MemoryNode
from peek_plugin_base.vortex import (
    Payload,
    PayloadEnvelope,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
)
from peek_vortex.handlers import VERSION_JUMP_LIMIT, ObservableMessages
from peek_vortex.routing import LocalSender
from tests.vortex_observables.harness import (
    FILT,
    OBSERVABLE,
    ItemTuple,
    Platform,
    record,
    selector,
    values,
)

MESSAGES = ObservableMessages(OBSERVABLE, FILT)


def bogus_update(p: Platform, version: int, value: Any = "forged") -> bytes:
    """An update of selector "a" with the server's real epoch and the given version."""
    assert p.handler is not None
    return MESSAGES.update(
        Payload(tuples=[ItemTuple(value=value)]), selector("a").toJsonStr(), version,
        p.handler.epoch,
    )


def observed_by(p: Platform, node: MemoryNode, dest: str) -> tuple[Any, list]:
    client = TupleDataObserverClient(OBSERVABLE, dest, FILT, router=node.router)
    subject = client.subscribeToTupleSelector(selector("a"))
    p.settle()
    return subject, record(subject)


def test_observer_ignores_updates_not_from_its_connection() -> None:
    """An update stamped as the server but not arriving from the open server connection
    (a forwarded or forged stamp) is ignored; real updates still arrive."""
    p = Platform()
    p.store.set("a", [1])
    agent = p.bus.node("peek-agent")
    p.link(agent, p.server)
    subject, seen = observed_by(p, agent, "peek-server")
    agent.router.receive(bogus_update(p, 5), LocalSender("peek-server", "not-a-connection"))
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert [values(t) for t in seen] == [[1], [2]]


def test_observer_resyncs_instead_of_freezing_on_a_far_ahead_version() -> None:
    """An update far ahead of the held version (same epoch) is not taken: the observer
    polls, takes the current data, and later real updates still arrive."""
    p = Platform()
    p.store.set("a", [1])
    agent = p.bus.node("peek-agent")
    p.link(agent, p.server)
    subject, seen = observed_by(p, agent, "peek-server")
    p.server.router.send(bogus_update(p, VERSION_JUMP_LIMIT + 100), "peek-agent")
    p.settle()
    assert [values(t) for t in seen] == [[1]]  # the poll's answer: still the current data
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert [values(t) for t in seen] == [[1], [2]]


def client_with_devices(p: Platform, count: int) -> tuple[MemoryNode, list[MemoryNode]]:
    client = p.bus.node("peek-client")
    p.link(client, p.server)
    TupleDataObservableProxyHandler(OBSERVABLE, "peek-server", FILT, router=client.router)
    devices = [p.bus.node("peek-mobile", device=True) for _ in range(count)]
    for device in devices:
        p.link(device, client)
    return client, devices


def test_proxy_resyncs_instead_of_forwarding_a_far_ahead_version() -> None:
    """The client's proxy does not fan out an upstream update far ahead of its cache; it
    polls upstream, fans out the current data, and devices keep getting updates."""
    p = Platform()
    p.store.set("a", [1])
    _, (device,) = client_with_devices(p, 1)
    subject, seen = observed_by(p, device, "peek-client")
    p.server.router.send(bogus_update(p, VERSION_JUMP_LIMIT + 100), "peek-client")
    p.settle()
    assert "forged" not in [v for t in seen for v in values(t)]
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert values(seen[-1]) == [2]


def test_a_device_cannot_forge_updates_for_other_devices(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A device sending an update addressed to the devices' name (over its one connection,
    to the client service, which refuses it) or to the client itself, with a huge version,
    reaches no other device, which keeps getting real updates."""
    p = Platform()
    p.store.set("a", [1])
    client, (attacker, victim) = client_with_devices(p, 2)
    subject, seen = observed_by(p, victim, "peek-client")
    # A device holds no connection named peek-mobile: its only way to address the other
    # devices is a header naming them on its connection to the client service.
    to_devices = PayloadEnvelope.fromVortexMsg(bogus_update(p, 2**62))
    to_devices.destVortexName = "peek-mobile"
    with caplog.at_level(logging.WARNING, logger="peek_vortex"):
        attacker.router.send(to_devices, attacker.connection_to("peek-client"))
    assert any("Refused a device message" in r.getMessage() for r in caplog.records)
    attacker.router.send(bogus_update(p, 2**62), "peek-client")
    p.settle()
    p.store.set("a", [2])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert [values(t) for t in seen] == [[1], [2]]
