"""Plugin mounts on a site (resources and static folders) and the service log set-up."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.web.resource import Resource, getChildForRequest
from twisted.web.static import Data, File
from twisted.web.test.requesthelper import DummyRequest

from peek_platform.web.plugin_site import PluginSiteRoot
from peek_vortex import OwnershipScope


def resolve(root: Resource, path: bytes) -> Resource:
    """The resource twisted.web would render for ``path``."""
    request = DummyRequest(path.strip(b"/").split(b"/"))
    return getChildForRequest(root, request) if path != b"/" else root.getChild(b"", request)


def test_plugin_resources_and_static_files_are_served_under_its_name(tmp_path: Path) -> None:
    """Mounted resources and files of static folders appear under /<pluginName>/, and the
    registration log removes the plugin's whole subtree."""
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.js").write_text("console.log(1)")
    root = PluginSiteRoot("mobile")
    log = OwnershipScope("peek_plugin_x")
    mount = root.mount_for("peek_plugin_x", log)
    page = Data(b"hello", "text/plain")
    mount.add_resource(b"hello", page)
    mount.add_static_dir(str(static))

    assert resolve(root, b"/peek_plugin_x/hello") is page
    served = resolve(root, b"/peek_plugin_x/app.js")
    assert isinstance(served, File) and served.path == str(static / "app.js")
    assert resolve(root, b"/") is root

    log.rollback()
    assert b"peek_plugin_x" not in root.children


@pytest.mark.parametrize("listing", [False, True])
def test_folders_are_listed_only_when_the_plugin_asks(tmp_path: Path, listing: bool) -> None:
    """A folder without index.html is a 404, or a listing of its names when the plugin
    mounted the static folder with list_directories."""
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    (static / "sub" / "a.js").write_text("1")
    root = PluginSiteRoot("desktop")
    root.mount_for("peek_plugin_x", OwnershipScope("peek_plugin_x")).add_static_dir(
        str(static), list_directories=listing)
    request = DummyRequest([b"peek_plugin_x", b"sub", b""])
    body = _render(getChildForRequest(root, request), request)
    assert (request.responseCode or 200) == (200 if listing else 404)
    assert (b"a.js" in body) is listing


def _render(resource: Resource, request: DummyRequest) -> bytes:
    result = resource.render(request)
    return result if isinstance(result, bytes) else b"".join(request.written)


def test_static_dir_must_exist(tmp_path: Path) -> None:
    """Mounting a missing folder is a clear error naming it."""
    mount = PluginSiteRoot("admin").mount_for("peek_plugin_x", OwnershipScope("peek_plugin_x"))
    missing = tmp_path / "nope"
    try:
        mount.add_static_dir(str(missing))
    except NotADirectoryError as e:
        assert str(missing) in str(e)
    else:
        raise AssertionError("a missing static folder was accepted")


def test_log_file_rotation_follows_config(tmp_path: Path) -> None:
    """The rotating log file lives in the home with the configured size and count."""
    script = (
        "import json, logging, sys\n"
        "from pathlib import Path\n"
        "from peek_platform.log_setup import setup_logging\n"
        "path = setup_logging('agent', Path(sys.argv[1]), 'WARNING', 3, 4, False)\n"
        "logging.getLogger('x').warning('written')\n"
        "logging.getLogger('x').info('filtered out')\n"
        "h = [h for h in logging.getLogger().handlers if hasattr(h, 'maxBytes')][0]\n"
        "print(json.dumps([str(path), h.maxBytes, h.backupCount]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path, max_bytes, backups = json.loads(done.stdout)
    assert path == str(tmp_path / "peek-agent.log")
    assert (max_bytes, backups) == (3 * 1024 * 1024, 4)
    text = Path(path).read_text()
    assert "written" in text and "filtered out" not in text
