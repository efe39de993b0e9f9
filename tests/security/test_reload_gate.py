"""The doors a plugin reload opens: what HTTP callers and bus peers are told while a plugin
is between stop and start, who is told, and what the control calls accept as a name."""

import json
from pathlib import Path

import pytest
from twisted.web.test.requesthelper import DummyRequest

from peek_platform.errors import PluginControlError
from peek_platform.plugin.gate import PluginGate
from peek_platform.web.plugin_site import PluginResource, PluginSiteRoot, PluginUnavailable
from peek_vortex.routing import LocalSender, PayloadEndpoint, PayloadRouter
from peek_vortex.wire import Originator, PayloadEnvelope
from tests.test_plugin_reload import (  # noqa: F401 - plugin_root is a fixture
    Wire,
    make_host,
    plugin_root,
    run,
)


def site_with(*plugins: str) -> tuple[PluginSiteRoot, PluginGate]:
    site = PluginSiteRoot("platform")
    site.gate = PluginGate()
    for name in plugins:
        site.putChild(name.encode(), PluginResource())
    return site, site.gate


def test_503_names_only_the_reloading_plugin_and_leaks_nothing() -> None:
    """The 503 body is a fixed JSON object (no traceback, no file path, no internal
    reason text beyond the state); other plugins and the site root are unaffected."""
    site, gate = site_with("fx_a", "fx_b")
    gate.close("fx_a", "reloading")
    request = DummyRequest([b"fx_a", b"x"])
    child = site.getChildWithDefault(b"fx_a", request)
    assert isinstance(child, PluginUnavailable)
    body = child.render(request)
    assert json.loads(body) == {"error": "PluginReloading", "plugin": "fx_a",
                                "message": "plugin fx_a is reloading; retry shortly"}
    assert b"Traceback" not in body and b"/" not in body
    assert request.responseHeaders.getRawHeaders(b"retry-after") == [b"2"]
    assert isinstance(site.getChildWithDefault(b"fx_b", DummyRequest([b"fx_b"])),
                      PluginResource)
    assert site.getChildWithDefault(b"", DummyRequest([b""])) is site


@pytest.mark.parametrize("path", [b"FX_A", b"fx_a%2F..", b"fx_a\x00", b"..", b"fx_a/"])
def test_lookalike_paths_are_not_taken_for_the_reloading_plugin(path: bytes) -> None:
    """Only the exact path segment of a closed plugin gets 503; near names, encoded
    separators and NUL bytes fall through to the site's normal (404) handling."""
    site, gate = site_with("fx_a")
    gate.close("fx_a", "reloading")
    child = site.getChildWithDefault(path, DummyRequest([path]))
    assert not isinstance(child, PluginUnavailable)
    assert not isinstance(child, PluginResource)


def test_requests_to_unknown_paths_are_not_counted_as_in_flight() -> None:
    """Only requests that reach a mounted plugin count towards a reload's drain, so a
    flood of requests for names that are not plugins cannot stall a reload."""
    site, gate = site_with("fx_a")
    for _ in range(3):
        site.getChildWithDefault(b"fx_nothere", DummyRequest([b"fx_nothere"]))
    assert gate.in_flight("fx_nothere") == 0
    request = DummyRequest([b"fx_a"])
    site.getChildWithDefault(b"fx_a", request)
    assert gate.in_flight("fx_a") == 1
    request.finish()
    assert gate.in_flight("fx_a") == 0


def _request(key: str, origin: str) -> PayloadEnvelope:
    envelope = PayloadEnvelope(filt={"key": key})
    envelope.messageId = "m1"
    envelope._originator = Originator(origin, "uuid-1", True)
    return envelope


def test_a_held_key_is_only_explained_to_originators_its_endpoint_accepts() -> None:
    """An endpoint limited to peek-server: while its plugin reloads, a device's request
    for its key learns nothing about the reload (it never could reach the endpoint), a
    request from peek-server gets PluginReloadingError."""
    sent: list[PayloadEnvelope] = []
    router = PayloadRouter(send=lambda _d, data: sent.append(PayloadEnvelope.fromVortexMsg(data)))
    endpoint = PayloadEndpoint({"key": "fx.private"}, lambda **_: None,
                               acceptOnlyFromVortex="peek-server", router=router)
    router.hold_endpoints([endpoint], "fx_private", "reloading")
    endpoint.shutdown()

    router.deliver(_request("fx.private", "peek-mobile"), LocalSender())
    assert len(sent) == 1
    assert sent[0].error is not None and sent[0].error[0] == "NoEndpointError"
    assert "fx_private" not in sent[0].error[1]

    router.deliver(_request("fx.private", "peek-server"), LocalSender())
    assert sent[1].error is not None and sent[1].error[0] == "PluginReloadingError"
    assert router.release_held("fx_private") == 0
    router.deliver(_request("fx.private", "peek-server"), LocalSender())
    assert sent[2].error is not None and sent[2].error[0] == "NoEndpointError"


@pytest.mark.parametrize("name", ["../etc", "os", "fx_x; rm -rf /", "", "a.b..c"])
def test_control_calls_refuse_names_that_are_not_installed_plugins(
    plugin_root: Path, tmp_path: Path, name: str  # noqa: F811 - the fixture
) -> None:
    """enable_plugin of a path, a non-plugin module, or a malformed name raises a
    PluginControlError and leaves config.json byte for byte as it was; reload and
    disable refuse names that are not enabled."""
    host = make_host(tmp_path, Wire())
    run(host.start_plugins([]))
    config = tmp_path / "home" / "config.json"
    before = config.read_bytes()
    with pytest.raises(PluginControlError):
        run(host.enable_plugin(name))
    with pytest.raises(PluginControlError, match="not in plugin.enabled"):
        run(host.reload_plugin(name))
    with pytest.raises(PluginControlError, match="not in plugin.enabled"):
        run(host.disable_plugin(name))
    assert config.read_bytes() == before
    assert host.records == {}
