"""The per-connection subscription cap of the observable handler and the client's proxy."""

from peek_plugin_base.vortex import TupleDataObserverClient
from peek_vortex.handlers import TOO_MANY_SUBSCRIPTIONS
from tests.vortex_observables.harness import FILT, OBSERVABLE, Platform, selector
from tests.vortex_observables.test_proxy import ClientService

CAP = 3


def test_handler_refuses_the_subscription_over_the_cap() -> None:
    """A connection gets CAP selectors (its router's max_subscriptions_per_connection); the
    next is refused with TooManySubscriptions and runs no provider; a repeat of a held
    selector and another connection still work."""
    p = Platform()
    p.server.router.max_subscriptions_per_connection = CAP
    device = p.bus.node("peek-agent")
    p.link(device, p.server)
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=device.router)
    subjects = [client.subscribeToTupleSelector(selector(f"g{i}")) for i in range(CAP + 1)]
    p.settle()
    runs = p.handler.providerRuns
    assert [s.error for s in subjects[:CAP]] == [None] * CAP
    assert subjects[CAP].error is not None and subjects[CAP].error.code == TOO_MANY_SUBSCRIPTIONS
    assert "maxSubscriptionsPerConnection" in subjects[CAP].error.message
    assert p.handler.watchedSelectorCount == CAP and runs == CAP
    # Another connection has its own allowance.
    other = p.bus.node("peek-worker")
    p.link(other, p.server)
    more = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=other.router)
    extra = more.subscribeToTupleSelector(selector("g9"))
    p.settle()
    assert extra.error is None and p.handler.watchedSelectorCount == CAP + 1


def test_proxy_refuses_the_device_subscription_over_the_cap() -> None:
    """Through the client's proxy a device gets CAP selectors (the client router's cap);
    the next is refused at the proxy (never subscribed upstream), although the server's
    router allows more; another device still subscribes."""
    p = Platform()
    cs = ClientService(p)
    cs.node.router.max_subscriptions_per_connection = CAP
    _, _, observer = cs.device("peek-mobile")
    subjects = [observer.subscribeToTupleSelector(selector(f"g{i}")) for i in range(CAP + 1)]
    p.settle()
    assert [s.error for s in subjects[:CAP]] == [None] * CAP
    refused = subjects[CAP].error
    assert refused is not None and refused.code == TOO_MANY_SUBSCRIPTIONS
    assert cs.proxy.watchedSelectorCount == CAP and cs.proxy.upstreamSubscribes == CAP
    _, _, second = cs.device("peek-desktop")
    ok = second.subscribeToTupleSelector(selector("g0"))
    p.settle()
    assert ok.error is None and ok.tuples == [] and cs.proxy.deviceCount(
        selector("g0").toJsonStr()) == 2

