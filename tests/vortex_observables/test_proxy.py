"""The client service's observable proxy: one upstream subscription, cache, fan-out, recovery."""

import pytest

from peek_plugin_base.testing import MemoryConnection, MemoryNode
from peek_plugin_base.vortex import (
    PayloadEnvelope,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
)
from peek_vortex import OwnershipScope, owned_by
from tests.support import result_of
from tests.vortex_observables.harness import (
    FILT,
    OBSERVABLE,
    EncodeCounter,
    Platform,
    record,
    selector,
    sent_by,
    values,
)


class ClientService:
    """A client service node linked to the server, running the proxy."""

    def __init__(self, platform: Platform, name: str = "peek-client") -> None:
        self.platform = platform
        self.node = platform.bus.node(name)
        self.upstream = platform.link(self.node, platform.server)
        self.proxy = TupleDataObservableProxyHandler(
            OBSERVABLE, "peek-server", FILT, router=self.node.router
        )

    def device(
        self, name: str = "peek-mobile"
    ) -> tuple[MemoryNode, MemoryConnection, TupleDataObserverClient]:
        """A device linked to this client service; returns (node, link, observer client)."""
        node: MemoryNode = self.platform.bus.node(name, device=True)
        link = self.platform.link(node, self.node)
        client = TupleDataObserverClient(OBSERVABLE, self.node.name, FILT, router=node.router)
        return node, link, client

    def reconnect(self) -> None:
        self.platform.unlink(self.upstream)
        self.upstream = self.platform.link(self.node, self.platform.server)


def upstream_ops(sent: list) -> list[str]:
    return [PayloadEnvelope.fromVortexMsg(data).filt["op"] for _, data in sent]


def test_many_devices_share_one_upstream_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    """N devices on one selector: one upstream subscriber, one encode per update, and every
    device receives the server's bytes forwarded unchanged."""
    p = Platform()
    p.store.set("a", [1])
    cs = ClientService(p)
    devices = [cs.device(f"peek-mobile-{i}") for i in range(10)]
    subjects = [client.subscribeToTupleSelector(selector("a")) for _, _, client in devices]
    p.settle()
    assert p.handler.subscriberCount(selector("a")) == 1
    assert cs.proxy.upstreamSubscribes == 1
    assert cs.proxy.deviceCount(selector("a").toJsonStr()) == 10
    assert all(values(s.tuples) == [1] for s in subjects)

    counter = EncodeCounter(monkeypatch)
    from_server = sent_by(p.server)
    from_proxy = sent_by(cs.node)
    p.store.set("a", [2, 3])
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert counter.count == 1  # the proxy forwarded without encoding tuples again
    assert len(from_server) == 1 and len(from_proxy) == 10
    assert len({id(data) for _, data in from_proxy}) == 1
    assert from_proxy[0][1] == from_server[0][1]
    assert all(values(s.tuples) == [2, 3] for s in subjects)


def test_a_late_device_is_served_from_the_proxy_cache() -> None:
    """A device joining a watched selector gets data at once, with no upstream message."""
    p = Platform()
    p.store.set("a", ["cached"])
    cs = ClientService(p)
    cs.device("peek-mobile-1")[2].subscribeToTupleSelector(selector("a"))
    p.settle()
    upstream = sent_by(cs.node)
    node, _, late = cs.device("peek-mobile-2")
    observed = late.subscribeToTupleSelector(selector("a"))
    assert values(observed.tuples) == ["cached"]
    assert [dest.vortex_name for dest, _ in upstream] == [node.name]
    assert p.provider.calls == 1
    polled = late.pollForTuples(selector("a"))
    assert values(result_of(polled)) == ["cached"]
    assert cs.proxy.upstreamPolls == 0


def test_the_upstream_subscription_ends_with_the_last_device() -> None:
    """Devices leaving (unsubscribe or disconnect) drop the upstream only with the last one."""
    p = Platform()
    cs = ClientService(p)
    _, _, one = cs.device("peek-mobile-1")
    _, link_two, two = cs.device("peek-mobile-2")
    one_subject = one.subscribeToTupleSelector(selector("a"))
    two.subscribeToTupleSelector(selector("a"))
    p.settle()
    upstream = sent_by(cs.node)
    one_subject.unsubscribe()
    assert p.handler.subscriberCount(selector("a")) == 1
    assert upstream_ops(upstream) == []
    p.unlink(link_two)
    assert upstream_ops(upstream) == ["unsubscribe"]
    assert p.handler.watchedSelectorCount == 0
    assert cs.proxy.watchedSelectorCount == 0
    p.handler.notifyOfTupleUpdate(selector("a"))
    p.settle()
    assert p.provider.calls == 1


def test_devices_converge_after_the_upstream_connection_returns() -> None:
    """While the upstream link is down the server changes; after relinking the proxy
    resubscribes every watched selector and all devices end on the server's state."""
    p = Platform()
    p.store.set("a", ["a0"])
    p.store.set("b", ["b0"])
    cs = ClientService(p)
    devices = [cs.device(f"peek-mobile-{i}")[2] for i in range(3)]
    subjects = [(g, d.subscribeToTupleSelector(selector(g))) for d in devices for g in "ab"]
    p.settle()
    p.unlink(cs.upstream)
    assert p.handler.watchedSelectorCount == 0  # the server forgot the proxy's subscriptions
    p.store.set("a", ["a1"])
    p.store.set("b", [])
    p.handler.notifyOfTupleUpdateForTuple(selector("a").name)
    p.settle()
    assert all(values(s.tuples) == [f"{g}0"] for g, s in subjects)  # last known data kept
    cs.upstream = p.link(cs.node, p.server)
    p.settle()
    assert p.handler.subscriberCount(selector("a")) == 1
    assert p.handler.subscriberCount(selector("b")) == 1
    assert all(values(s.tuples) == p.store.values[g] for g, s in subjects)


def test_devices_converge_on_a_restarted_server_whose_versions_start_again() -> None:
    """A new server instance (new epoch, versions from 1 again) is accepted, not taken as old."""
    p = Platform()
    cs = ClientService(p)
    _, _, client = cs.device()
    observed = client.subscribeToTupleSelector(selector("a"))
    seen = record(observed)
    p.settle()
    for i in range(5):  # push the old instance's version well above 1
        p.store.set("a", [i])
        p.handler.notifyOfTupleUpdate(selector("a"))
        p.settle()
    p.unlink(cs.upstream)
    p.handler.shutdown()
    p.handler = p.make_handler()
    p.store.set("a", ["after restart"])
    cs.upstream = p.link(cs.node, p.server)
    p.settle()
    assert values(observed.tuples) == ["after restart"]
    assert [values(t) for t in seen][-2:] == [[4], ["after restart"]]


def test_a_repeated_update_is_not_forwarded_twice() -> None:
    """A resubscribe that returns the same version (server kept state) sends devices nothing."""
    p = Platform()
    cs = ClientService(p)
    _, _, client = cs.device()
    seen = record(client.subscribeToTupleSelector(selector("a")))
    p.settle()
    sent = sent_by(cs.node)
    cs.proxy.on_connection_open(cs.upstream)  # as if the transport reported a reopen
    p.settle()
    assert upstream_ops(sent) == ["subscribe"]  # and nothing to the device
    assert len(seen) == 1


def test_a_device_poll_without_cache_goes_upstream() -> None:
    """A poll for a selector no device watches is forwarded and answered by the server."""
    p = Platform()
    p.store.set("z", ["fresh"])
    cs = ClientService(p)
    _, _, client = cs.device()
    polled = client.pollForTuples(selector("z"))
    p.settle()
    assert values(result_of(polled)) == ["fresh"]
    assert cs.proxy.upstreamPolls == 1


def test_plugin_rollback_drops_the_proxy_and_its_upstream_subscriptions() -> None:
    """Rolling back the plugin that made the proxy unsubscribes upstream and stops serving."""
    p = Platform()
    node = p.bus.node("peek-client")
    p.link(node, p.server)
    log = OwnershipScope("peek_plugin_observed")
    with owned_by(log):
        TupleDataObservableProxyHandler(OBSERVABLE, "peek-server", FILT, router=node.router)
    device = p.bus.node("peek-mobile")
    p.link(device, node)
    client = TupleDataObserverClient(OBSERVABLE, "peek-client", FILT, router=device.router)
    client.subscribeToTupleSelector(selector("a"))
    p.settle()
    assert p.handler.subscriberCount(selector("a")) == 1
    log.rollback()
    assert p.handler.subscriberCount(selector("a")) == 0
    assert node.router.endpoint_count == 0
