"""A plugin's ``mobile`` / ``desktop`` section of plugin_package.json: what is accepted,
and the error (naming the plugin and the key) for each way it can be wrong."""

import os
from pathlib import Path
from typing import Any

import pytest

from peek_platform.errors import PluginDeviceUiError, PluginError
from peek_platform.web.device_shell import DeviceShell, parse_device_ui

PLUGIN = "peek_plugin_fx"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A plugin package folder with a UI folder (entry, icon, a sub folder) and a secret."""
    root = tmp_path / PLUGIN
    web = root / "_private" / "web"
    (web / "parts").mkdir(parents=True)
    (web / "app.js").write_text("export function mount() {}")
    (web / "icon.svg").write_text("<svg/>")
    (web / "parts" / "view.js").write_text("export {}")
    (web / ".hidden.js").write_text("hidden")
    (root / "secret.py").write_text("SECRET = 1")
    (root / "outside.js").write_text("export {}")
    return root


def cfg(section: Any, site: str = "mobile") -> dict[str, Any]:
    return {"plugin": {"title": "Fixture", "version": "1.2.3"}, site: section}


def test_a_full_section_is_parsed(package: Path) -> None:
    """webDir, entry, icon, home and title are read; the title and version default from
    the plugin section; the files listed for caching are the folder's, hidden ones left out."""
    ui = parse_device_ui(PLUGIN, str(package), cfg(
        {"webDir": "_private/web", "entry": "app.js", "icon": "icon.svg"}), "mobile")
    assert ui is not None
    assert (ui.title, ui.version, ui.home, ui.entry, ui.icon) == (
        "Fixture", "1.2.3", True, "app.js", "icon.svg")
    assert ui.web_dir == os.path.realpath(package / "_private" / "web")
    assert ui.as_listing()["entry"] == f"/{PLUGIN}/app.js"
    assert ui.as_listing()["icon"] == f"/{PLUGIN}/icon.svg"
    assert sorted(ui.files()) == ["app.js", "icon.svg", "parts/view.js"]
    ui = parse_device_ui(PLUGIN, str(package), cfg(
        {"webDir": "_private/web/", "entry": "parts/view.js", "home": False,
         "title": "Other"}, "desktop"), "desktop")
    assert ui is not None and (ui.home, ui.title, ui.icon) == (False, "Other", None)


def test_no_section_means_no_ui(package: Path) -> None:
    """A plugin without the section, or with an empty one, has no UI on that site."""
    assert parse_device_ui(PLUGIN, str(package), {"plugin": {}}, "mobile") is None
    assert parse_device_ui(PLUGIN, str(package), cfg({}), "mobile") is None
    assert parse_device_ui(PLUGIN, str(package), cfg({"webDir": "_private/web",
                                                      "entry": "app.js"}), "desktop") is None


BAD = [
    ("not an object", ["a"], "mobile", "must be an object"),
    ("unknown key", {"webDir": "_private/web", "entry": "app.js", "appDir": "x"},
     "mobile.appDir", "unknown key"),
    ("no webDir", {"entry": "app.js"}, "mobile.webDir", "must name"),
    ("absolute webDir", {"webDir": "/etc", "entry": "passwd"}, "mobile.webDir", "relative"),
    ("webDir up", {"webDir": "../", "entry": "x.js"}, "mobile.webDir", "relative"),
    ("webDir up inside", {"webDir": "_private/../../", "entry": "x.js"}, "mobile.webDir",
     "relative"),
    ("webDir backslash", {"webDir": "..\\..", "entry": "x.js"}, "mobile.webDir", "relative"),
    ("missing webDir", {"webDir": "nope", "entry": "app.js"}, "mobile.webDir", "no such folder"),
    ("webDir is a file", {"webDir": "secret.py", "entry": "app.js"}, "mobile.webDir",
     "no such folder"),
    ("entry missing", {"webDir": "_private/web"}, "mobile.entry", "non-empty"),
    ("entry up", {"webDir": "_private/web", "entry": "../../outside.js"}, "mobile.entry",
     "inside"),
    ("entry absolute", {"webDir": "_private/web", "entry": "/etc/hosts"}, "mobile.entry",
     "inside"),
    ("entry absent", {"webDir": "_private/web", "entry": "nope.js"}, "mobile.entry",
     "no such file"),
    ("entry not js", {"webDir": "_private/web", "entry": "icon.svg"}, "mobile.entry",
     "ES module"),
    ("icon up", {"webDir": "_private/web", "entry": "app.js", "icon": "../../secret.py"},
     "mobile.icon", "inside"),
    ("home not bool", {"webDir": "_private/web", "entry": "app.js", "home": "yes"},
     "mobile.home", "true or false"),
    ("title empty", {"webDir": "_private/web", "entry": "app.js", "title": " "},
     "mobile.title", "non-empty"),
]


@pytest.mark.parametrize(("case", "section", "key", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_wrong_section_is_refused_naming_plugin_and_key(
        package: Path, case: str, section: Any, key: str, words: str) -> None:
    """Each mistake raises PluginDeviceUiError (a PluginError) whose message names the
    plugin, the key and what is wrong."""
    with pytest.raises(PluginDeviceUiError) as raised:
        parse_device_ui(PLUGIN, str(package), cfg(section), "mobile")
    error = raised.value
    assert isinstance(error, PluginError)
    assert error.key == key and error.plugin_name == PLUGIN
    assert PLUGIN in str(error) and f'"{key}"' in str(error) and words in str(error), str(error)


def test_symlinks_out_of_the_package_are_refused(package: Path, tmp_path: Path) -> None:
    """A webDir or entry that is a symlink pointing outside the package is refused."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "app.js").write_text("export {}")
    (package / "linked").symlink_to(outside)
    with pytest.raises(PluginDeviceUiError, match="resolves outside"):
        parse_device_ui(PLUGIN, str(package), cfg({"webDir": "linked", "entry": "app.js"}),
                        "mobile")
    (package / "_private" / "web" / "out.js").symlink_to(outside / "app.js")
    with pytest.raises(PluginDeviceUiError, match="resolves outside"):
        parse_device_ui(PLUGIN, str(package), cfg({"webDir": "_private/web",
                                                   "entry": "out.js"}), "mobile")


def test_the_version_changes_with_the_files(package: Path) -> None:
    """The cache version changes when a UI file changes, is added, or the plugin's version
    changes, so a new service worker replaces the cached files."""
    from peek_vortex import OwnershipScope

    class _Mount:
        def add_static_dir(self, directory: str) -> None:
            pass

    def shell_with(version: str) -> DeviceShell:
        shell = DeviceShell("mobile")
        config = cfg({"webDir": "_private/web", "entry": "app.js"})
        config["plugin"]["version"] = version
        ui = parse_device_ui(PLUGIN, str(package), config, "mobile")
        assert ui is not None
        shell.add_plugin(ui, _Mount(), OwnershipScope(PLUGIN))  # type: ignore[arg-type]
        return shell

    first = shell_with("1").version()
    assert shell_with("1").version() == first
    assert shell_with("2").version() != first
    (package / "_private" / "web" / "new.js").write_text("export {}")
    second = shell_with("1").version()
    assert second != first
    assert f"/{PLUGIN}/new.js" in shell_with("1").precache_urls()
    view = package / "_private" / "web" / "parts" / "view.js"
    view.write_text("export const changed = true;")
    os.utime(view, ns=(1, 1))
    assert shell_with("1").version() != second


def test_unloading_removes_the_app_from_the_listing(package: Path) -> None:
    """The listing entry is a registration: rolling the plugin's log back removes it."""
    from peek_vortex import OwnershipScope

    class _Mount:
        def add_static_dir(self, directory: str) -> None:
            pass

    shell = DeviceShell("desktop")
    log = OwnershipScope(PLUGIN)
    ui = parse_device_ui(PLUGIN, str(package), cfg({"webDir": "_private/web",
                                                   "entry": "app.js"}, "desktop"), "desktop")
    assert ui is not None
    shell.add_plugin(ui, _Mount(), log)  # type: ignore[arg-type]
    assert [p["name"] for p in shell.listing()["plugins"]] == [PLUGIN]
    log.rollback()
    assert shell.listing()["plugins"] == []
