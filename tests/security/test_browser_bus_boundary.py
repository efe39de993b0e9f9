"""A page's bus connection reaches only what client plugins expose, whatever it forges.

A real page in headless Chromium, connected to a real client service through the served
``/peek/vortex.js``, writes its own headers: a destination of ``peek-server`` or of one
connection is refused by the client service (an ``AccessDeniedError`` answer, nothing
forwarded), and it cannot claim a service's name in its hello.
"""

from typing import Any

import pytest

from tests.browser.conftest import browser_page, chromium, load_vortex, peek_platform  # noqa: F401
from tests.browser.platform import ECHO_RPC, SERVER_RPC, BrowserPlatform

CONNECT = """async () => {
    const v = window.vortex;
    window.client = new v.VortexClient({name: "peek-mobile"}).connect();
    await window.client.whenOpen(20);
}"""

FORGED_CALL = """async ([rpcName, header, args = []]) => {
    const v = window.vortex;
    try {
        const reply = await window.client.request({
            filt: {key: "vortex.rpc." + rpcName},
            tuples: [v.RpcArgsTuple.create({args, kwargs: {}})],
            ...header,
        }, {timeoutSeconds: 20});
        return ["answered", (await reply.tuples()).length];
    } catch (e) { return [e.name, e.code, e.remoteMessage]; }
}"""


@pytest.mark.parametrize("header", [
    {"destVortexName": "peek-server"},
    {"destVortexName": "peek-agent"},
    {"destVortexName": "peek-client", "destVortexUuid": "00000000-0000-4000-8000-000000000000"},
    {"destVortexName": "peek-server", "originator": ["peek-client", "forged", False]},
], ids=["peek-server", "peek-agent", "one-connection", "forged-originator"])
def test_page_cannot_address_past_the_client_service(
        peek_platform: BrowserPlatform, browser_page: Any, header: dict[str, Any]) -> None:  # noqa: F811
    """An RPC call a page addresses to the server (or an agent, or one connection, or
    with a forged originator) is refused by the client service; the server-only RPC never
    runs. The same page can still call what the client plugin exposes."""
    load_vortex(browser_page, peek_platform.mobile_url)
    browser_page.evaluate(CONNECT)
    outcome = browser_page.evaluate(FORGED_CALL, [SERVER_RPC, header])
    assert outcome[:2] == ["RemoteError", "AccessDeniedError"]
    assert "devices may only address" in outcome[2]
    assert browser_page.evaluate(FORGED_CALL, [ECHO_RPC, {}, [1]]) == ["answered", 1]
    assert peek_platform.server is not None
    assert "serverSecret was called" not in peek_platform.server.log()


def test_page_cannot_reach_a_server_rpc_through_the_client(
        peek_platform: BrowserPlatform, browser_page: Any) -> None:  # noqa: F811
    """Addressed to the client service, a server-only RPC is simply not there."""
    load_vortex(browser_page, peek_platform.mobile_url)
    browser_page.evaluate(CONNECT)
    outcome = browser_page.evaluate(FORGED_CALL, [SERVER_RPC, {}])
    assert outcome[:2] == ["RemoteError", "NoEndpointError"]
    assert peek_platform.server is not None
    assert "serverSecret was called" not in peek_platform.server.log()


@pytest.mark.parametrize("name", ["peek-client", "peek-server", "peek-admin", "x" * 65])
def test_page_cannot_claim_another_name(
        peek_platform: BrowserPlatform, browser_page: Any, name: str) -> None:  # noqa: F811
    """A hello claiming a service's name (or a malformed one) is refused for good: the
    client stops in state ``refused`` with the close code, and does not retry."""
    load_vortex(browser_page, peek_platform.desktop_url)
    code = browser_page.evaluate("""async (name) => {
        const client = new window.vortex.VortexClient({name, reconnectInitialSeconds: 0.05});
        const closed = new Promise((resolve) => client.addEventListener("close",
            (e) => resolve(e.detail)));
        client.connect();
        const detail = await closed;
        return [detail.code, detail.willReconnect, client.state];
    }""", name)
    assert code in ([4403, False, "refused"], [4400, False, "refused"])
