"""The browser bus client against real server and client service processes.

Pages run in headless Chromium and import the client from the service (``/peek/vortex.js``)
or from disk where a test stops the service (see bus_page.PageServer); the data
is the tutorial plugin's StringInt table in a new PostgreSQL database, the RPCs the
``fx_browser`` fixture plugin's (tests/browser/fx_browser.py).
"""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.bus_page import TUTORIAL_TYPES, PageServer, open_test_page
from tests.browser.conftest import load_vortex, new_page
from tests.browser.platform import ECHO_RPC, FAIL_RPC, BrowserPlatform

WAIT_MS = 30_000

CONNECT_AND_OBSERVE = """async (options) => {
    const v = window.vortex, t = window.tutorial;
    const client = window.client = new v.VortexClient(options);
    window.states = [];
    client.addEventListener("statechange", (e) => window.states.push(e.detail.state));
    client.connect();
    const Observer = options.offline ? v.TupleDataOfflineObserver : v.TupleDataObserver;
    window.observer = new Observer(client, "peek_plugin_tutorial", {additionalFilt: t.filt});
    window.updates = [];
    window.observer.subscribe(t.selector,
        (tuples, info) => window.updates.push({rows: t.rows(tuples), stale: info.stale}));
}"""

LAST_ROWS = "() => window.updates.length ? window.updates[window.updates.length - 1] : null"


def wait_rows(page: Any, rows: list[list[Any]], stale: bool = False) -> None:
    """Wait until the page's latest observed rows are ``rows`` (and as stale as said)."""
    try:
        _wait_rows(page, rows, stale)
    except Exception:
        print("observed:", page.evaluate("() => window.updates"),
              "states:", page.evaluate("() => window.states"))
        raise


def _wait_rows(page: Any, rows: list[list[Any]], stale: bool) -> None:
    page.wait_for_function(
        """([rows, stale]) => {
            const last = window.updates[window.updates.length - 1];
            return last && last.stale === stale
                && JSON.stringify(last.rows) === JSON.stringify(rows);
        }""", arg=[rows, stale], timeout=WAIT_MS)


def test_observe_push_and_rpc(peek_platform: BrowserPlatform, browser_page: Any) -> None:
    """A page observes the StringInt table through the client service (current rows first),
    pushes an action and sees its update (an unsubscribed listener does not), and calls a
    client plugin's RPCs with tagged values; a remote error arrives with its code and
    message."""
    a, b = peek_platform.add_string_ints(("alpha", 1), ("beta", 2))
    load_vortex(browser_page, peek_platform.mobile_url)
    browser_page.evaluate(TUTORIAL_TYPES)
    browser_page.evaluate(CONNECT_AND_OBSERVE, {"name": "peek-mobile"})
    wait_rows(browser_page, [[a, "alpha", 1], [b, "beta", 2]])

    # A second subscription shares the remote one, gets the data held at once, and stops
    # hearing once unsubscribed.
    second = browser_page.evaluate("""() => {
        const t = window.tutorial;
        window.secondSeen = [];
        window.second = window.observer.subscribe(t.selector,
            (tuples) => window.secondSeen.push(t.rows(tuples)));
        const seen = window.secondSeen.length;
        window.second.unsubscribe();
        return [seen, window.observer.watchedCount];
    }""")
    assert second == [1, 1]

    result = browser_page.evaluate("""async (id) => {
        const v = window.vortex, t = window.tutorial;
        const push = new v.TupleActionPushService(window.client, "peek_plugin_tutorial",
            {additionalFilt: t.filt});
        const action = t.AddIntValueActionTuple.create({stringIntId: id, offset: 5});
        return (await push.pushAction(action)).length;
    }""", b)
    assert result == 0
    wait_rows(browser_page, [[a, "alpha", 1], [b, "beta", 7]])
    updates = browser_page.evaluate("() => window.updates")
    assert [u["rows"] for u in updates] == [[[a, "alpha", 1], [b, "beta", 2]],
                                            [[a, "alpha", 1], [b, "beta", 7]]]
    assert browser_page.evaluate("() => window.secondSeen.length") == 1

    echoed = browser_page.evaluate("""async (name) => {
        const v = window.vortex;
        const echo = new v.VortexRpc(window.client, name);
        const when = new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 123));
        const out = await echo.callWith([{when, raw: new Uint8Array([0, 255]),
            price: new v.Decimal("1.50"), huge: 2n ** 70n, nan: NaN}], {times: 2});
        const first = out.values[0];
        return {type: out.type, count: out.values.length, when: first.when.toISOString(),
                raw: Array.from(first.raw), price: first.price.toString(),
                huge: first.huge.toString(), nan: Number.isNaN(first.nan)};
    }""", ECHO_RPC)
    assert echoed == {"type": "dict", "count": 2, "when": "2024-02-29T23:59:58.123Z",
                      "raw": [0, 255], "price": "1.50", "huge": str(2**70), "nan": True}

    error = browser_page.evaluate("""async (name) => {
        try {
            await new window.vortex.VortexRpc(window.client, name).call("Refused", "no, thanks");
            return null;
        } catch (e) { return [e.name, e.code, e.remoteMessage]; }
    }""", FAIL_RPC)
    assert error == ["RemoteError", "Refused", "no, thanks"]


def test_action_answered_once_and_retry_with_same_id_not_applied_twice(
        peek_platform: BrowserPlatform, browser_page: Any) -> None:
    """An action whose answer comes too late times out in the page, though the server
    applied it; pushing the same action again (same id) is answered from the server's
    record without applying it twice. A missing row is a remote error, not a timeout."""
    (row,) = peek_platform.add_string_ints(("gamma", 100))
    load_vortex(browser_page, peek_platform.mobile_url)
    browser_page.evaluate(TUTORIAL_TYPES)
    outcome = browser_page.evaluate("""async (id) => {
        const v = window.vortex, t = window.tutorial;
        const client = new v.VortexClient().connect();
        await client.whenOpen(20);
        const push = new v.TupleActionPushService(client, "peek_plugin_tutorial",
            {additionalFilt: t.filt});
        const action = t.AddIntValueActionTuple.create({stringIntId: id, offset: 1});
        let first;
        try {
            await push.pushAction(action, {timeoutSeconds: 0.001, retries: 0});
            first = "answered";
        } catch (e) { first = e.name; }
        const again = await push.pushAction(action, {timeoutSeconds: 20});
        let missing;
        try {
            await push.pushAction(t.AddIntValueActionTuple.create({stringIntId: -1, offset: 1}));
        } catch (e) { missing = e.code; }
        return {first, again: again.length, missing};
    }""", row)
    assert outcome == {"first": "ActionTimeoutError", "again": 0,
                       "missing": "StringIntRowMissingError"}
    assert peek_platform.sql('SELECT int1 FROM pl_tutorial."StringIntTuple" WHERE id = %s',
                             row) == [(101,)]


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    """The test page and the bus client's modules, served from disk (see PageServer)."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def own_platform() -> Iterator[BrowserPlatform]:
    """A server and client service of this test alone (it stops and restarts the client)."""
    platform = BrowserPlatform()
    try:
        yield platform.start()
    finally:
        platform.close()


def test_reconnect_and_heartbeat(own_platform: BrowserPlatform, page_server: PageServer,
                                 chromium: Any) -> None:
    """When the client service restarts, the page reconnects (jittered backoff), subscribes
    again and gets updates; when the service stops answering without closing the socket
    (SIGSTOP), the heartbeat notices and the page reconnects once it answers again."""
    import signal

    (row,) = own_platform.add_string_ints(("delta", 1))
    with new_page(chromium) as page:
        open_test_page(page, page_server.url)
        page.evaluate(CONNECT_AND_OBSERVE, {
            "name": "peek-desktop", "url": own_platform.bus_url("desktop"),
            "reconnectInitialSeconds": 0.2, "reconnectMaxSeconds": 1,
            "heartbeatSeconds": 0.5, "heartbeatTimeoutSeconds": 1.5})
        wait_rows(page, [[row, "delta", 1]])

        own_platform.stop_client()
        page.wait_for_function("() => window.client.state === 'waiting'", timeout=WAIT_MS)
        own_platform.start_client()
        page.wait_for_function("() => window.client.isOpen", timeout=WAIT_MS)
        own_platform.sql('UPDATE pl_tutorial."StringIntTuple" SET int1 = 2 WHERE id = %s', row)
        page.evaluate("""async (id) => {
            const v = window.vortex, t = window.tutorial;
            const push = new v.TupleActionPushService(window.client, "peek_plugin_tutorial",
                {additionalFilt: t.filt});
            await push.pushAction(t.AddIntValueActionTuple.create({stringIntId: id, offset: 3}));
        }""", row)
        wait_rows(page, [[row, "delta", 5]])

        client = own_platform.client
        assert client is not None
        page.evaluate("() => { window.states = []; }")
        client.signal(signal.SIGSTOP)
        try:
            page.wait_for_function("() => window.states.includes('waiting')", timeout=WAIT_MS)
        finally:
            client.signal(signal.SIGCONT)
        page.wait_for_function("() => window.client.isOpen", timeout=WAIT_MS)
        states = page.evaluate("() => window.states")
        assert states[:2] == ["waiting", "connecting"] and states[-1] == "open"


QUEUE_STATE = """() => ({length: window.actions.queueLength, results: window.results})"""

OFFLINE_ACTIONS = """() => {
    const v = window.vortex, t = window.tutorial;
    window.actions = new v.TupleActionPushOfflineService(window.client, "peek_plugin_tutorial",
        {additionalFilt: t.filt, retryDelaySeconds: 0.5});
    window.lengths = [];
    window.results = {};
    window.actions.addEventListener("queuelength", (e) => window.lengths.push(e.detail.length));
    window.actions.addEventListener("actionresult", (e) => {
        const {actionId, error, tuples} = e.detail;
        window.results[actionId] = error ? error.code : tuples.length;
    });
    return window.actions.ready;
}"""

PUSH_OFFLINE = """async ([id, offset]) => {
    const t = window.tutorial;
    const action = t.AddIntValueActionTuple.create({stringIntId: id, offset});
    const answered = window.actions.pushAction(action);
    answered.then((r) => { window.answered = (window.answered || 0) + 1; },
                  (e) => { window.answered = (window.answered || 0) + 1; });
    await window.actions.queued();  // stored once pushAction's first step ran
    return action.uuid;
}"""


def test_offline_cache_and_queue_applied_once_across_reload(
        own_platform: BrowserPlatform, page_server: PageServer, chromium: Any) -> None:
    """With the client service stopped, a reloaded page shows the cached rows at once
    (stale), actions pushed before and after the reload wait in IndexedDB (the queue length
    is visible), and when the service is back each is applied exactly once, in order, with
    a result for every action id, including those the earlier page load queued."""
    (row,) = own_platform.add_string_ints(("epsilon", 0))
    options = {"name": "peek-mobile", "url": own_platform.bus_url("mobile"), "offline": True,
               "reconnectInitialSeconds": 0.2, "reconnectMaxSeconds": 1}
    with new_page(chromium) as page:
        open_test_page(page, page_server.url)
        page.evaluate(CONNECT_AND_OBSERVE, options)
        page.evaluate(OFFLINE_ACTIONS)
        wait_rows(page, [[row, "epsilon", 0]])

        own_platform.stop_client()
        page.wait_for_function("() => !window.client.isOpen", timeout=WAIT_MS)
        first = page.evaluate(PUSH_OFFLINE, [row, 1])
        second = page.evaluate(PUSH_OFFLINE, [row, 10])
        page.wait_for_function("() => window.actions.queueLength === 2", timeout=WAIT_MS)

        page.reload()
        page.wait_for_function("() => window.vortex !== undefined", timeout=WAIT_MS)
        page.evaluate(TUTORIAL_TYPES)
        page.evaluate(CONNECT_AND_OBSERVE, options)
        page.evaluate(OFFLINE_ACTIONS)
        # No connection: the cached rows, marked stale; the queue from before the reload.
        wait_rows(page, [[row, "epsilon", 0]], stale=True)
        assert page.evaluate("() => window.client.isOpen") is False
        assert page.evaluate("() => window.actions.queueLength") == 2
        third = page.evaluate(PUSH_OFFLINE, [row, 100])
        page.wait_for_function("() => window.actions.queueLength === 3", timeout=WAIT_MS)
        queued = page.evaluate("async () => (await window.actions.queued()).map((q) => q.actionId)")
        assert queued == [first, second, third]
        # An action of the earlier page load, awaited by id in this one.
        page.evaluate("""(id) => { window.earlier = null;
            window.actions.result(id).then((r) => { window.earlier = r.length; }); }""", first)

        own_platform.start_client()
        page.wait_for_function("() => window.actions.queueLength === 0", timeout=WAIT_MS)
        page.wait_for_function("() => Object.keys(window.results).length === 3", timeout=WAIT_MS)
        state = page.evaluate(QUEUE_STATE)
        assert state["results"] == {first: 0, second: 0, third: 0}
        assert page.evaluate("() => window.earlier") == 0
        assert page.evaluate("() => window.answered") == 1  # this load's own push
        wait_rows(page, [[row, "epsilon", 111]])
        assert own_platform.sql('SELECT int1 FROM pl_tutorial."StringIntTuple" WHERE id = %s',
                                row) == [(111,)]
        lengths = page.evaluate("() => window.lengths")
        assert lengths[0] == 2 and lengths[-1] == 0

        # Nothing is sent again by a later load.
        page.reload()
        page.wait_for_function("() => window.vortex !== undefined", timeout=WAIT_MS)
        page.evaluate(TUTORIAL_TYPES)
        page.evaluate(CONNECT_AND_OBSERVE, options)
        page.evaluate(OFFLINE_ACTIONS)
        page.wait_for_function("() => window.client.isOpen", timeout=WAIT_MS)
        wait_rows(page, [[row, "epsilon", 111]])
        assert page.evaluate("() => window.actions.queueLength") == 0
        stored = page.evaluate("async (id) => (await window.actions.result(id)).length", second)
        assert stored == 0
    assert own_platform.sql('SELECT int1 FROM pl_tutorial."StringIntTuple" WHERE id = %s',
                            row) == [(111,)]
