"""Finding 1: a plugin's static folder serves its files and nothing else, on every site."""

from collections.abc import Iterator

import pytest

from tests.security.web_sites import PLUGIN, Sites, start_sites

SITES = ("admin", "platform", "mobile", "desktop")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    yield from start_sites(tmp_path_factory.mktemp("static-sites"))


def escapes(sites: Sites) -> list[str]:
    """Request targets that try to leave the static folder, or to list one."""
    secret = str(sites.secret_file)
    token = str(sites.token_file)
    p = f"/{PLUGIN}"
    return [
        f"{p}/%2F{secret.lstrip('/').replace('/', '%2F')}",       # encoded absolute path
        f"{p}/%2f{token.lstrip('/').replace('/', '%2f')}",        # lower-case encoding
        f"{p}/{secret.replace('/', '%2F')}",
        f"{p}/..%2Fsecret.txt",
        f"{p}/..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F{token.lstrip('/').replace('/', '%2F')}",
        f"{p}/%2e%2e/secret.txt",
        f"{p}/%2E%2E%2Fsecret.txt",
        f"{p}/sub/%2e%2e/%2e%2e/secret.txt",
        f"{p}/..%5Csecret.txt",
        f"{p}/%2e%2e%5csecret.txt",
        f"{p}/secret.txt%00",
        f"{p}/..%00/secret.txt",
        f"{p}/%00..%2Fsecret.txt",
        f"{p}/..%252Fsecret.txt",                                  # double encoding
        f"{p}/%252e%252e/secret.txt",
        f"{p}/%252e%252e%252Fsecret.txt",
        f"{p}//{secret.lstrip('/')}",                               # absolute-looking paths
        f"{p}/{'/'.join(['..'] * 8)}{token}",
        f"{p}/link.txt",                                            # symlink out of the folder
        f"{p}/up/secret.txt",                                       # symlinked parent folder
        f"{p}/up/",
        f"{p}/%2e%2e/",                                             # listing the parent
        f"{p}/sub/",                                                # listing a sub folder
    ]


@pytest.mark.parametrize("site", SITES)
def test_no_request_leaves_the_static_folder(sites: Sites, site: str) -> None:
    """Encoded slashes and backslashes, ``..`` in any encoding, NUL, double encoding,
    absolute paths and symlinks pointing out never serve a file outside the folder (the
    secret beside it, the platform token) nor list a folder: each answers 404 (or 400)."""
    leaks = []
    for target in escapes(sites):
        response = sites.request(site, target)
        body = response.body.decode("utf-8", "replace")
        leaked = [text for text in (sites.secret, sites.token, "secret.txt", "inner.js")
                  if text in body]
        if leaked or response.status not in (400, 404):
            leaks.append((target, response.status, leaked))
    assert leaks == [], f"{site} site: {len(leaks)} request(s) got out of the folder"


@pytest.mark.parametrize("site", SITES)
def test_files_inside_the_folder_are_served(sites: Sites, site: str) -> None:
    """The folder's files, sub folders and symlinks staying inside it are served; the
    plugin root with or without its trailing slash serves index.html."""
    index = (sites.static / "index.html").read_bytes()
    app = (sites.static / "app.js").read_bytes()
    expected = {
        f"/{PLUGIN}": index,
        f"/{PLUGIN}/": index,
        f"/{PLUGIN}/index.html": index,
        f"/{PLUGIN}/app.js": app,
        f"/{PLUGIN}/alias.js": app,
        f"/{PLUGIN}/sub/inner.js": (sites.static / "sub" / "inner.js").read_bytes(),
    }
    wrong = []
    for target, content in expected.items():
        response = sites.request(site, target)
        if (response.status, response.body) != (200, content):
            wrong.append((target, response.status))
    assert wrong == [], f"{site} site"


def test_undecodable_segments_do_not_flood_the_log(sites: Sites) -> None:
    """A path segment that is not UTF-8 (``%ff``) answers 404 and leaves no log line:
    Twisted's File logs an error for each one, which a client could repeat endlessly."""
    statuses = {sites.request(site, f"/{PLUGIN}/%ff{n}.js").status
                for site in SITES for n in range(20)}
    assert statuses == {404}
    logs = sites.server.log() + sites.client.log()
    assert "Could not decode path segment" not in logs
