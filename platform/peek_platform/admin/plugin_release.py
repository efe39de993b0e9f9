"""Checks an uploaded plugin release (wheel or sdist) before anything of it runs.

A release passes when:

- its file name is a plain name ending in ``.whl``, ``.tar.gz`` or ``.zip`` (sdist), with
  the distribution name and version the packaging standards put there;
- it is a readable zip (wheel, zip sdist) or gzip'd tar (sdist) whose every member is a
  regular file or folder with a relative path that stays inside the archive (no ``..``,
  no absolute path, no backslash, no symlink, hard link or device), at most
  :data:`MAX_MEMBERS` members, and whose members unpack to at most the configured total
  (each member is decompressed and counted, so a lying header or a bomb is caught);
- it holds exactly one plugin package: a top-level package (``<pkg>/__init__.py``) with a
  ``plugin_package.json`` that parses to an object with the keys the loader reads
  (``plugin`` with ``title`` and ``version``, ``requiresServices`` a list of service names,
  optional ``requiresPlugins`` a list), and the package name is the distribution's name
  with ``-``/``.`` as ``_``;
- a wheel installs nothing but that package into site-packages (no other top-level
  package or module, no ``.data/scripts|headers|data``), declares the ``peek.plugins``
  entry point ``<pkg> = <pkg>`` (how installed plugins are listed), and does not replace
  an installed package that is not this plugin.
"""

import configparser
import importlib.metadata
import importlib.util
import json
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Optional

from peek_platform.errors import PluginUploadError

#: Most members an archive may have.
MAX_MEMBERS = 20000
#: Largest plugin_package.json read.
MAX_PACKAGE_JSON_BYTES = 1024 * 1024
#: Services a plugin may name in requiresServices.
SERVICE_NAMES = frozenset({"server", "client", "agent", "worker", "storage"})
_CHUNK = 256 * 1024
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_WHEEL_NAME = re.compile(
    r"^(?P<dist>[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)-(?P<version>[A-Za-z0-9_.!+]+)"
    r"(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_SDIST_NAME = re.compile(
    r"^(?P<dist>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)-(?P<version>\d[A-Za-z0-9_.!+]*)"
    r"\.(?:tar\.gz|zip)$")


@dataclass(frozen=True)
class ReleaseInfo:
    """What a checked release is."""

    file_name: str
    #: "wheel" or "sdist".
    kind: str
    distribution: str
    version: str
    #: The plugin's root package.
    package: str
    #: The parsed plugin_package.json.
    package_cfg: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.package_cfg["plugin"]["title"])


def normalize(name: str) -> str:
    """A distribution name as a package name: lower case, ``-`` and ``.`` runs as ``_``."""
    return re.sub(r"[-_.]+", "_", name).lower()


def check_file_name(file_name: str) -> tuple[str, str, str]:
    """(kind, distribution, version) from an upload's file name, or PluginUploadError."""
    if not file_name or len(file_name) > 255 or not _FILE_NAME.match(file_name):
        raise PluginUploadError(
            file_name or "(no name)", "the file name must be a plain name (letters, digits, "
            "'.', '_', '+', '-'; no folders) ending in .whl, .tar.gz or .zip")
    wheel = _WHEEL_NAME.match(file_name)
    if wheel:
        return "wheel", wheel["dist"], wheel["version"]
    sdist = _SDIST_NAME.match(file_name)
    if sdist:
        return "sdist", sdist["dist"], sdist["version"]
    if file_name.endswith((".whl", ".tar.gz", ".zip")):
        raise PluginUploadError(
            file_name, "not a release file name: a wheel is named "
            "<name>-<version>-<python>-<abi>-<platform>.whl, an sdist <name>-<version>.tar.gz")
    raise PluginUploadError(
        file_name, "not a wheel or sdist: the name must end in .whl, .tar.gz or .zip")


def _member_problem(name: str) -> Optional[str]:
    """Why an archive member's path is unsafe, or None."""
    if not name or "\\" in name or "\x00" in name:
        return f"member {name!r} has an empty name, a backslash or a NUL"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"member {name!r} has an absolute path"
    if ".." in PurePosixPath(name).parts:
        return f"member {name!r} leaves the archive's folder (path traversal '..')"
    return None


class _Budget:
    """Counts unpacked bytes against the limit."""

    def __init__(self, file_name: str, limit: int) -> None:
        self.file_name = file_name
        self.limit = limit
        self.used = 0

    def take(self, count: int, member: str) -> None:
        self.used += count
        if self.used > self.limit:
            raise PluginUploadError(
                self.file_name, f"unpacks to more than {self.limit} bytes (limit "
                f"httpServer.admin.pluginUploadMaxUnpackedBytes), reached at member "
                f"{member!r}: refused as an archive bomb", 413)


def _read_all(stream: IO[bytes], member: str, budget: _Budget, keep: bool) -> bytes:
    kept = bytearray()
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return bytes(kept)
        budget.take(len(chunk), member)
        if keep:
            if len(kept) + len(chunk) > MAX_PACKAGE_JSON_BYTES:
                raise PluginUploadError(budget.file_name, f"{member} is larger than "
                                        f"{MAX_PACKAGE_JSON_BYTES} bytes")
            kept += chunk


def _is_kept(name: str) -> bool:
    """Members whose content the later checks read."""
    return name.endswith(("/plugin_package.json", ".dist-info/entry_points.txt",
                          ".dist-info/METADATA", "/PKG-INFO"))


def _zip_members(path: Path, file_name: str, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise PluginUploadError(file_name, f"not a valid zip archive: {e}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PluginUploadError(file_name, f"has {len(infos)} members; at most "
                                    f"{MAX_MEMBERS} are accepted")
        for info in infos:
            problem = _member_problem(info.filename)
            if problem:
                raise PluginUploadError(file_name, problem)
            # Zip writers often store permission bits only; a file type, when given, counts.
            file_type = stat.S_IFMT(info.external_attr >> 16)
            if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
                kind = "a symlink" if file_type == stat.S_IFLNK else "not a regular file"
                raise PluginUploadError(file_name, f"member {info.filename!r} is {kind}; "
                                        "only regular files and folders are accepted")
            if info.is_dir():
                continue
            # Declared sizes can lie: decompress and count what really comes out.
            budget.take(0, info.filename)
            if info.file_size > budget.limit:
                budget.take(info.file_size, info.filename)
            try:
                with archive.open(info) as stream:
                    data = _read_all(stream, info.filename, budget, _is_kept(info.filename))
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error) as e:
                raise PluginUploadError(file_name, f"member {info.filename!r} cannot be "
                                        f"unpacked: {e}") from None
            yield info.filename, data


def _tar_members(path: Path, file_name: str, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    try:
        archive = tarfile.open(path, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise PluginUploadError(file_name, f"not a valid gzip'd tar archive: {e}") from None
    count = 0
    with archive:
        try:
            for info in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise PluginUploadError(file_name, f"has more than {MAX_MEMBERS} "
                                            "members")
                problem = _member_problem(info.name)
                if problem:
                    raise PluginUploadError(file_name, problem)
                if info.issym() or info.islnk():
                    kind = "a symlink" if info.issym() else "a hard link"
                    raise PluginUploadError(
                        file_name, f"member {info.name!r} is {kind} (to {info.linkname!r}); "
                        "only regular files and folders are accepted")
                if info.isdir():
                    continue
                if not info.isfile():
                    raise PluginUploadError(file_name, f"member {info.name!r} is not a "
                                            "regular file or folder")
                if info.size > budget.limit:
                    budget.take(info.size, info.name)
                stream = archive.extractfile(info)
                assert stream is not None
                yield info.name, _read_all(stream, info.name, budget, _is_kept(info.name))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise PluginUploadError(file_name, f"the archive is damaged: {e}") from None


def check_package_json(file_name: str, where: str, data: bytes,
                       package: str) -> dict[str, Any]:
    """Parse plugin ``package``'s plugin_package.json and check the keys the loader reads."""
    try:
        cfg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PluginUploadError(file_name, f"{where} is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise PluginUploadError(file_name, f"{where}: the top level must be a JSON object")
    plugin = cfg.get("plugin")
    if not isinstance(plugin, dict):
        raise PluginUploadError(file_name, f'{where}: "plugin" must be an object with '
                                '"title" and "version"')
    for key in ("title", "version"):
        if not isinstance(plugin.get(key), str) or not plugin[key].strip():
            raise PluginUploadError(file_name, f'{where}: "plugin.{key}" must be a '
                                    "non-empty string")
    named = plugin.get("packageName", package)
    if named != package:
        raise PluginUploadError(file_name, f'{where}: "plugin.packageName" is {named!r} but '
                                f"the package is {package!r}")
    services = cfg.get("requiresServices")
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise PluginUploadError(file_name, f'{where}: "requiresServices" must be a list of '
                                "service names")
    unknown = sorted(set(services) - SERVICE_NAMES)
    if unknown:
        raise PluginUploadError(file_name, f'{where}: "requiresServices" names unknown '
                                f"services {unknown} (known: {sorted(SERVICE_NAMES)})")
    requires = cfg.get("requiresPlugins", [])
    if not isinstance(requires, list) or not all(isinstance(s, str) for s in requires):
        raise PluginUploadError(file_name, f'{where}: "requiresPlugins" must be a list of '
                                "plugin names")
    return cfg


def check_release(path: Path, file_name: str, max_unpacked: int) -> ReleaseInfo:
    """Check the release at ``path`` (uploaded as ``file_name``); PluginUploadError names
    what is wrong. Reads only; runs nothing from the archive."""
    kind, dist, version = check_file_name(file_name)
    budget = _Budget(file_name, max_unpacked)
    if file_name.endswith(".tar.gz"):
        members = dict(_tar_members(path, file_name, budget))
    else:
        members = dict(_zip_members(path, file_name, budget))
    package = normalize(dist)
    if kind == "wheel":
        return _check_wheel(file_name, dist, version, package, members)
    return _check_sdist(file_name, dist, version, package, members)


def _plugin_packages(members: dict[str, bytes], prefix: str) -> list[str]:
    """Packages right under ``prefix`` holding a plugin_package.json and an __init__.py."""
    found = []
    for name in members:
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix):].split("/")
        if len(parts) == 2 and parts[1] == "plugin_package.json" and \
                f"{prefix}{parts[0]}/__init__.py" in members:
            found.append(parts[0])
    return sorted(found)


def _one_plugin(file_name: str, package: str, members: dict[str, bytes],
                prefixes: list[str]) -> tuple[str, dict[str, Any]]:
    found = [(prefix, name) for prefix in prefixes for name in _plugin_packages(members, prefix)]
    if not found:
        raise PluginUploadError(
            file_name, "holds no plugin package: no top-level package (a folder with "
            "__init__.py) has a plugin_package.json")
    if len(found) > 1:
        raise PluginUploadError(file_name, "holds more than one plugin package: "
                                f"{sorted(n for _, n in found)}; a release is one plugin")
    prefix, name = found[0]
    if name != package:
        raise PluginUploadError(
            file_name, f"its plugin package {name!r} does not match the distribution "
            f"name (expected the package {package!r})")
    where = f"{prefix}{name}/plugin_package.json"
    return where, check_package_json(file_name, where, members[where], name)


def _check_wheel(file_name: str, dist: str, version: str, package: str,
                 members: dict[str, bytes]) -> ReleaseInfo:
    info_dir = next((n.split("/")[0] for n in members
                     if n.split("/")[0].endswith(".dist-info") and n.endswith("/METADATA")),
                    None)
    if info_dir is None or normalize(info_dir[:-len(".dist-info")].rsplit("-", 1)[0]) \
            != package:
        raise PluginUploadError(file_name, f"not a valid wheel: no {dist}-{version}.dist-info"
                                "/METADATA")
    data_dir = info_dir[:-len(".dist-info")] + ".data"
    tops = set()
    for name in members:
        top = name.split("/")[0]
        if top == data_dir:
            parts = name.split("/")
            if len(parts) > 1 and parts[1] not in ("purelib", "platlib"):
                raise PluginUploadError(file_name, f"installs files outside site-packages "
                                        f"({data_dir}/{parts[1]}/); a plugin may not")
            if len(parts) > 2:
                tops.add(parts[2].split(".")[0] if len(parts) == 3 else parts[2])
            continue
        if top != info_dir:
            tops.add(top if "/" in name else top.split(".")[0])
    others = sorted(tops - {package})
    if others:
        raise PluginUploadError(file_name, f"installs more than its plugin package "
                                f"{package!r}: also {others}; a plugin release may hold "
                                "only its own package")
    prefixes = ["", f"{data_dir}/purelib/", f"{data_dir}/platlib/"]
    _, cfg = _one_plugin(file_name, package, members, prefixes)
    entry_points = members.get(f"{info_dir}/entry_points.txt", b"")
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(entry_points.decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError) as e:
        raise PluginUploadError(file_name, f"{info_dir}/entry_points.txt is invalid: {e}") \
            from None
    declared = parser.get("peek.plugins", package, fallback="").strip()
    if declared.split(":")[0].strip() != package:
        raise PluginUploadError(
            file_name, f"declares no peek.plugins entry point for {package} (setup.py: "
            f"entry_points={{'peek.plugins': ['{package} = {package}']}}); installed "
            "plugins are listed through it")
    _check_not_replacing(file_name, dist, package)
    return ReleaseInfo(file_name, "wheel", dist, version, package, cfg)


def _check_sdist(file_name: str, dist: str, version: str, package: str,
                 members: dict[str, bytes]) -> ReleaseInfo:
    roots = {name.split("/")[0] for name in members}
    if len(roots) != 1:
        raise PluginUploadError(file_name, "not a valid sdist: members must all be in one "
                                f"folder <name>-<version>/, found {sorted(roots)[:5]}")
    root = roots.pop()
    if f"{root}/PKG-INFO" not in members or not (
            f"{root}/setup.py" in members or f"{root}/pyproject.toml" in members):
        raise PluginUploadError(file_name, "not a valid sdist: PKG-INFO and setup.py or "
                                "pyproject.toml are required in its top folder")
    _, cfg = _one_plugin(file_name, package, members, [f"{root}/", f"{root}/src/"])
    _check_not_replacing(file_name, dist, package)
    return ReleaseInfo(file_name, "sdist", dist, version, package, cfg)


def _check_not_replacing(file_name: str, dist: str, package: str) -> None:
    """Refuse a release that would overwrite an installed package that is not a plugin."""
    spec = importlib.util.find_spec(package) if package.isidentifier() else None
    if spec is not None:
        locations = list(spec.submodule_search_locations or ())
        if not any((Path(p) / "plugin_package.json").is_file() for p in locations):
            raise PluginUploadError(
                file_name, f"would replace the installed package {package!r}, which is not "
                "a Peek plugin", 409)
    try:
        installed = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return
    if not any(ep.group == "peek.plugins" for ep in installed.entry_points):
        raise PluginUploadError(
            file_name, f"would replace the installed distribution {installed.name!r}, which "
            "is not a Peek plugin", 409)
