"""End to end under churn: server, two client services and devices always converge."""

import random
from typing import Any

import pytest

from peek_plugin_base.vortex import (
    Payload,
    TupleDataObservableHandler,
    TupleDataObservableProxyHandler,
    TupleDataObserverClient,
)
from tests.vortex_observables.harness import (
    FILT,
    OBSERVABLE,
    ItemTuple,
    Platform,
    record,
    selector,
    values,
)


@pytest.mark.parametrize("seed", range(25))
def test_devices_behind_proxies_converge_under_churn(seed: int) -> None:
    """Random writes, notifies, slow providers finishing in any order, devices joining,
    leaving and disconnecting, and upstream links dropping and returning: once things calm
    down every device's data equals the server's, no device ever went back to an older
    state, and the server holds exactly one subscription per (client service, selector)."""
    rng = random.Random(seed)
    p = Platform(deferred=True)
    groups = ["a", "b"]
    services = []
    for i in range(2):
        node = p.bus.node(f"peek-client-{i}")
        proxy = TupleDataObservableProxyHandler(
            OBSERVABLE, "peek-server", FILT, router=node.router
        )
        services.append({"node": node, "proxy": proxy, "upstream": p.link(node, p.server)})
    devices: list[dict[str, Any]] = []
    subjects: list[tuple[str, Any, list]] = []
    counter = 0

    def add_device() -> None:
        nonlocal counter
        counter += 1
        service = rng.choice(services)
        node = p.bus.node(f"peek-mobile-{counter}")
        link = p.link(node, service["node"])
        client = TupleDataObserverClient(
            OBSERVABLE, service["node"].name, FILT, router=node.router
        )
        devices.append({"node": node, "link": link, "client": client})

    def subscribe() -> None:
        device, group = rng.choice(devices), rng.choice(groups)
        subject = device["client"].subscribeToTupleSelector(selector(group))
        subjects.append((group, subject, record(subject)))

    add_device()
    subscribe()
    for step in range(250):
        action = rng.random()
        if action < 0.35:
            group = rng.choice(groups)
            p.store.set(group, [f"{group}{step}"] * rng.randint(0, 2))
            p.handler.notifyOfTupleUpdate(selector(group))
        elif action < 0.6 and p.provider.pending:
            p.provider.fire(rng.randrange(len(p.provider.pending)))
        elif action < 0.7:
            p.settle()
        elif action < 0.78:
            add_device()
            subscribe()
        elif action < 0.86 and devices:
            subscribe()
        elif action < 0.9 and subjects:
            subjects.pop(rng.randrange(len(subjects)))[1].unsubscribe()
        elif action < 0.93 and len(devices) > 1:
            device = devices.pop(rng.randrange(len(devices)))
            p.unlink(device["link"])
            subjects[:] = [s for s in subjects if s[1]._client is not device["client"]]
        else:
            service = rng.choice(services)
            if service["upstream"] is not None:
                p.unlink(service["upstream"])
                service["upstream"] = None
            else:
                service["upstream"] = p.link(service["node"], p.server)
    for service in services:
        if service["upstream"] is None:
            service["upstream"] = p.link(service["node"], p.server)
    p.finish()

    assert p.provider.max_in_flight == 1
    for group, subject, seen in subjects:
        assert values(subject.tuples) == p.store.values[group]
        revs = [t[0].rev for t in seen if t]
        assert revs == sorted(revs), "a device went back to an older state"
    for group in groups:
        watched_by = sum(
            1 for s in services if s["proxy"].deviceCount(selector(group).toJsonStr())
        )
        assert p.handler.subscriberCount(selector(group)) == watched_by


def test_providers_may_return_a_payload_or_be_coroutines() -> None:
    """A provider may return a Payload instead of bytes, or be an async function."""

    class AsyncProvider:
        async def makeVortexMsg(self, filt: dict, tupleSelector: Any) -> Payload:
            return Payload(filt, [ItemTuple(rev=0, value=tupleSelector.selector["group"])])

    p = Platform(with_handler=False)
    handler = TupleDataObservableHandler(OBSERVABLE, FILT, router=p.server.router)
    handler.addTupleProvider(ItemTuple.tupleName(), AsyncProvider())
    agent = p.bus.node("peek-agent")
    p.link(agent, p.server)
    client = TupleDataObserverClient(OBSERVABLE, "peek-server", FILT, router=agent.router)
    observed = client.subscribeToTupleSelector(selector("g1"))
    p.settle()
    assert values(observed.tuples) == ["g1"]
