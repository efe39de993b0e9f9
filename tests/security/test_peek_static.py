"""``/peek/`` (the browser bus client's modules) serves its folder's files and nothing else.

Served by the client service's mobile and desktop sites and the server's admin site; the
server's platform site (services only) does not serve it.
"""

from collections.abc import Iterator

import pytest

from peek_platform.web.peek_static import JS_DIR
from tests.security.web_sites import Sites, raw_request, start_sites

BROWSER_SITES = ("admin", "mobile", "desktop")
MODULES = sorted(p.name for p in JS_DIR.glob("*.js"))


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    yield from start_sites(tmp_path_factory.mktemp("peek-static-sites"))


@pytest.mark.parametrize("site", BROWSER_SITES)
def test_every_module_is_served_as_javascript(sites: Sites, site: str) -> None:
    """Each module of the folder is served whole with a JavaScript type (browsers refuse to
    run a module served as anything else)."""
    assert "vortex.js" in MODULES
    for name in MODULES:
        response = sites.request(site, f"/peek/{name}")
        assert response.status == 200, name
        assert response.headers["content-type"].startswith("text/javascript"), name
        assert response.body == (JS_DIR / name).read_bytes()


def test_platform_site_does_not_serve_it(sites: Sites) -> None:
    """The services' site has no browser files."""
    assert raw_request(sites.ports["platform"], "/peek/vortex.js").status == 404


def _escapes(sites: Sites) -> list[str]:
    """Targets that try to leave /peek/ (the Python modules beside it, the platform token)
    or list it."""
    token = str(sites.token_file).lstrip("/")
    return [
        "/peek/",
        "/peek/..%2Ferrors.py",
        "/peek/%2e%2e/errors.py",
        "/peek/%2E%2E%2F_aio.py",
        "/peek/..%5Cerrors.py",
        "/peek/..%252Ferrors.py",
        "/peek/vortex.js%00",
        "/peek/%00",
        "/peek/..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F" + token.replace("/", "%2F"),
        "/peek/%2F" + token.replace("/", "%2F"),
        "/peek//" + token,
        "/peek/" + "/".join([".."] * 10) + "/" + token,
        "/peek/../wire/constants.py",
        "/peek/nonexistent.js",
        "/peek/%ff.js",
    ]


@pytest.mark.parametrize("site", BROWSER_SITES)
def test_no_request_leaves_the_folder(sites: Sites, site: str) -> None:
    """Encoded slashes and backslashes, ``..`` in any encoding, NUL, double encoding and
    absolute paths never serve a file outside the folder, nor list it: 404 (or 400)."""
    python_source = (JS_DIR.parent / "errors.py").read_text()
    leaks = []
    for target in _escapes(sites):
        response = sites.request(site, target)
        body = response.body.decode("utf-8", "replace")
        if (response.status not in (400, 404) or sites.token in body
                or "mount_peek_static" in body or python_source[:200] in body):
            leaks.append((target, response.status, body[:80]))
    assert not leaks


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_read_only(sites: Sites, method: str) -> None:
    """Nothing but GET and HEAD is accepted; the file is unchanged."""
    before = (JS_DIR / "vortex.js").read_bytes()
    response = raw_request(sites.ports["mobile"], "/peek/vortex.js", method=method)
    assert response.status in (405, 501)
    assert (JS_DIR / "vortex.js").read_bytes() == before
