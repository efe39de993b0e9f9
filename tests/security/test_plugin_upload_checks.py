"""The checks an uploaded plugin release passes before anything of it runs, one fault each."""

import json
import zipfile
from pathlib import Path

import pytest

from peek_platform.admin.plugin_release import check_file_name, check_release
from peek_platform.admin.plugin_upload import file_part
from peek_platform.errors import PluginUploadError
from tests.plugin_releases import (
    multipart,
    package_json,
    wheel_files,
    wheel_name,
    write_sdist,
    write_wheel,
    write_zip,
    write_zip_bomb,
)

PKG = "peek_plugin_checked"
LIMIT = 8 * 1024 * 1024


def refusal(path: Path, name: str = "") -> str:
    with pytest.raises(PluginUploadError) as caught:
        check_release(path, name or path.name, LIMIT)
    return caught.value.reason


def test_a_good_wheel_and_sdist_pass(tmp_path: Path) -> None:
    """A plugin wheel and sdist with a valid plugin_package.json pass, named correctly."""
    wheel = check_release(write_wheel(tmp_path, PKG), wheel_name(PKG, "1.0.0"), LIMIT)
    assert (wheel.kind, wheel.package, wheel.version) == ("wheel", PKG, "1.0.0")
    sdist = write_sdist(tmp_path, PKG)
    assert check_release(sdist, sdist.name, LIMIT).kind == "sdist"


@pytest.mark.parametrize("name,expected", [
    ("../evil.whl", "plain name"),
    ("a/b-1.0-py3-none-any.whl", "plain name"),
    ("plugin.exe", "must end in .whl, .tar.gz or .zip"),
    ("plugin.whl", "not a release file name"),
    ("", "plain name"),
])
def test_file_names_that_are_not_releases_are_refused(name: str, expected: str) -> None:
    """A name with a folder, another extension or no wheel/sdist shape is refused."""
    with pytest.raises(PluginUploadError) as caught:
        check_file_name(name)
    assert expected in caught.value.reason


def test_path_traversal_member_is_refused(tmp_path: Path) -> None:
    """A member named ``../x`` or ``/x`` is refused naming the member."""
    files = wheel_files(PKG, "1.0.0", extra={f"{PKG}/../../escape.py": b"x = 1\n"})
    reason = refusal(write_zip(tmp_path / wheel_name(PKG, "1.0.0"), files))
    assert "path traversal" in reason and "escape.py" in reason
    files = wheel_files(PKG, "1.0.0", extra={"/etc/peek.py": b"x = 1\n"})
    assert "absolute path" in refusal(write_zip(tmp_path / wheel_name(PKG, "1.0.0"), files))


def test_symlink_members_are_refused(tmp_path: Path) -> None:
    """A symlink member in a wheel (zip) or an sdist (tar) is refused naming it."""
    wheel = write_wheel(tmp_path, PKG, symlinks={f"{PKG}/passwd": "/etc/passwd"})
    assert "is a symlink" in refusal(wheel) and "passwd" in refusal(wheel)
    sdist = write_sdist(tmp_path, PKG, links={f"peek-plugin-checked-1.0.0/{PKG}/x": "/etc"})
    assert "is a symlink (to '/etc')" in refusal(sdist)


def test_zip_bomb_is_refused_by_what_it_unpacks_to(tmp_path: Path) -> None:
    """A member unpacking past the limit is refused as a bomb, naming the limit's key."""
    bomb = write_zip_bomb(tmp_path, PKG, 3 * LIMIT // 2)
    assert bomb.stat().st_size < LIMIT // 100
    reason = refusal(bomb)
    assert "archive bomb" in reason and "pluginUploadMaxUnpackedBytes" in reason


def test_damaged_member_data_is_refused(tmp_path: Path) -> None:
    """Every member is really unpacked (not just its header read): damaged compressed
    data is refused naming the member."""
    path = write_wheel(tmp_path, PKG)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{PKG}/__init__.py")
    # Damage the compressed data of one member: CRC/decompression fails, named.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5
    data[start:start + 20] = bytes(20)
    path.write_bytes(bytes(data))
    assert "cannot be unpacked" in refusal(path)


def test_a_wheel_without_a_plugin_package_is_refused(tmp_path: Path) -> None:
    """A wheel whose package has no plugin_package.json is refused as not a plugin."""
    files = {n: d for n, d in wheel_files(PKG, "1.0.0").items()
             if not n.endswith("plugin_package.json")}
    reason = refusal(write_zip(tmp_path / wheel_name(PKG, "1.0.0"), files))
    assert "holds no plugin package" in reason


@pytest.mark.parametrize("cfg,expected", [
    ("not json", "is not valid JSON"),
    ([], "top level must be a JSON object"),
    ({"requiresServices": ["server"]}, '"plugin" must be an object'),
    ({"plugin": {"title": "x"}, "requiresServices": ["server"]}, '"plugin.version"'),
    ({"plugin": {"title": "x", "version": "1"}}, '"requiresServices" must be a list'),
    ({"plugin": {"title": "x", "version": "1"}, "requiresServices": ["mainframe"]},
     "unknown services ['mainframe']"),
    ({"plugin": {"title": "x", "version": "1", "packageName": "other"},
      "requiresServices": ["server"]}, '"plugin.packageName" is \'other\''),
])
def test_invalid_plugin_package_json_is_refused(tmp_path: Path, cfg: object,
                                                expected: str) -> None:
    """Each way plugin_package.json can be unusable is refused, naming the file and key."""
    files = wheel_files(PKG, "1.0.0")
    files[f"{PKG}/plugin_package.json"] = (cfg if isinstance(cfg, str) else json.dumps(cfg)) \
        .encode()
    reason = refusal(write_zip(tmp_path / wheel_name(PKG, "1.0.0"), files))
    assert f"{PKG}/plugin_package.json" in reason and expected in reason


def test_package_must_match_the_distribution(tmp_path: Path) -> None:
    """A wheel named for one distribution holding another plugin package is refused."""
    path = write_wheel(tmp_path, PKG)
    renamed = path.with_name(wheel_name("peek_plugin_other", "1.0.0"))
    path.rename(renamed)
    assert "not a valid wheel" in refusal(renamed)


def test_extra_top_level_packages_and_scripts_are_refused(tmp_path: Path) -> None:
    """A plugin wheel may not also install another package (shadowing the platform) or
    files outside site-packages."""
    extra = {"twisted/__init__.py": b"owned = True\n"}
    reason = refusal(write_wheel(tmp_path, PKG, extra=extra))
    assert "installs more than its plugin package" in reason and "twisted" in reason
    extra = {f"{PKG}-1.0.0.data/scripts/run_peek_server": b"#!/bin/sh\n"}
    assert "outside site-packages" in refusal(write_wheel(tmp_path, PKG, extra=extra))


def test_wheel_without_entry_point_is_refused(tmp_path: Path) -> None:
    """Without its peek.plugins entry point a wheel would not be listed: refused."""
    reason = refusal(write_wheel(tmp_path, PKG, entry_point=False))
    assert "peek.plugins entry point" in reason


def test_replacing_an_installed_non_plugin_is_refused(tmp_path: Path) -> None:
    """A "plugin" named after an installed package that is not a plugin is refused."""
    files = wheel_files("twisted", "99.0")
    files["twisted/plugin_package.json"] = json.dumps(package_json("twisted", "99.0")).encode()
    reason = refusal(write_zip(tmp_path / wheel_name("twisted", "99.0"), files))
    assert "would replace the installed package 'twisted'" in reason


def test_multipart_file_part_is_found_with_its_name() -> None:
    """The form's ``file`` part and its file name come out of a browser-style body."""
    content_type, body = multipart("x-1.0-py3-none-any.whl", b"\r\n--not-the-boundary\r\n")
    name, data = file_part(body, content_type.encode())
    assert (name, bytes(data)) == ("x-1.0-py3-none-any.whl", b"\r\n--not-the-boundary\r\n")
    with pytest.raises(PluginUploadError, match="multipart/form-data"):
        file_part(body, b"application/octet-stream")
