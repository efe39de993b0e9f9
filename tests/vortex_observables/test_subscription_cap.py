"""The per-connection subscription cap of the observable handler and the client's proxy."""

from collections.abc import Iterator

import pytest

from peek_plugin_base.vortex import TupleDataObserverClient
from peek_vortex.handlers import (
    TOO_MANY_SUBSCRIPTIONS,
    configure_observables,
    max_subscriptions_per_connection,
)
from tests.vortex_observables.harness import FILT, OBSERVABLE, Platform, selector
from tests.vortex_observables.test_proxy import ClientService

CAP = 3


@pytest.fixture(autouse=True)
def small_cap() -> Iterator[None]:
    before = max_subscriptions_per_connection()
    configure_observables(CAP)
    yield
    configure_observables(before)


def test_handler_refuses_the_subscription_over_the_cap() -> None:
    """A connection gets CAP selectors; the next is refused with TooManySubscriptions and
    runs no provider; a repeat of a held selector and another connection still work."""
    p = Platform()
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
    """Through the client's proxy a device gets CAP selectors; the next is refused at the
    proxy (never subscribed upstream); another device still subscribes (to a selector
    already watched: here the server's handler shares the cap with the proxy)."""
    p = Platform()
    cs = ClientService(p)
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


def test_configure_observables_rejects_a_bad_cap() -> None:
    """The cap is a whole number >= 1; anything else is refused, naming the value."""
    with pytest.raises(ValueError, match="got 0"):
        configure_observables(0)
