"""Builds plugin releases (wheels written byte by byte, sdists as tar.gz) for upload tests.

A good release is a tiny server plugin whose ``start()`` serves ``/<package>/hello`` on the
server's platform site, answering ``hello from <package> <version>``. Helpers add the
faults the upload checks must catch (traversal, symlinks, bombs, bad package files).
"""

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Optional

INIT = '''"""Uploaded test plugin {package}."""

from twisted.web.resource import Resource

from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC


class _Hello(Resource):
    isLeaf = True

    def render_GET(self, request):
        return b"hello from {package} {version}"


class ServerEntryHook(PluginServerEntryHookABC):
    def load(self):
        pass

    def start(self):
        self.platform.addServerResource(b"hello", _Hello())

    def stop(self):
        pass

    def unload(self):
        pass


def peekServerEntryHook():
    return ServerEntryHook
'''


def package_json(package: str, version: str) -> dict[str, Any]:
    return {"plugin": {"title": f"Uploaded {package}", "packageName": package,
                       "version": version},
            "requiresServices": ["server"]}


def plugin_files(package: str, version: str,
                 cfg: Optional[Any] = None) -> dict[str, bytes]:
    """The plugin package's files (paths relative to site-packages)."""
    text = json.dumps(package_json(package, version) if cfg is None else cfg)
    return {f"{package}/__init__.py": INIT.format(package=package, version=version).encode(),
            f"{package}/plugin_package.json": text.encode()}


def wheel_files(package: str, version: str, cfg: Optional[Any] = None,
                entry_point: bool = True,
                extra: Optional[dict[str, bytes]] = None) -> dict[str, bytes]:
    """Every member of a pure-Python wheel (RECORD last, with true hashes)."""
    dist = package.replace("_", "-")
    info = f"{package}-{version}.dist-info"
    files = plugin_files(package, version, cfg)
    files.update(extra or {})
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {dist}\n"
                                 f"Version: {version}\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: peek-tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    if entry_point:
        files[f"{info}/entry_points.txt"] = \
            f"[peek.plugins]\n{package} = {package}\n".encode()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return files


def wheel_name(package: str, version: str) -> str:
    return f"{package}-{version}-py3-none-any.whl"


def write_zip(path: Path, files: dict[str, bytes],
              symlinks: Optional[dict[str, str]] = None) -> Path:
    """A zip of ``files``; ``symlinks`` maps member names to link targets (unix mode)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)
    return path


def write_wheel(folder: Path, package: str, version: str = "1.0.0", **kwargs: Any) -> Path:
    """A valid (or, with kwargs, faulty) plugin wheel in ``folder``; its path."""
    symlinks = kwargs.pop("symlinks", None)
    return write_zip(folder / wheel_name(package, version),
                     wheel_files(package, version, **kwargs), symlinks)


def write_zip_bomb(folder: Path, package: str, unpacked: int) -> Path:
    """A plugin wheel with one member of ``unpacked`` zero bytes (a few KB compressed)."""
    path = write_wheel(folder, package)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{package}/blob.bin", "w", force_zip64=True) as member:
            zeros = bytes(1024 * 1024)
            for _ in range(unpacked // len(zeros)):
                member.write(zeros)
    return path


def write_sdist(folder: Path, package: str, version: str = "1.0.0",
                links: Optional[dict[str, str]] = None,
                extra: Optional[dict[str, bytes]] = None) -> Path:
    """A plugin sdist (tar.gz with setup.py); ``links``: symlink members to add."""
    dist = package.replace("_", "-")
    root = f"{dist}-{version}"
    files = {f"{root}/{name}": data for name, data in plugin_files(package, version).items()}
    files[f"{root}/PKG-INFO"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"\
        .encode()
    files[f"{root}/setup.py"] = (
        "from setuptools import setup\n"
        f"setup(name={dist!r}, version={version!r}, packages=[{package!r}],\n"
        f"      package_data={{{package!r}: ['plugin_package.json']}},\n"
        f"      entry_points={{'peek.plugins': ['{package} = {package}']}})\n").encode()
    files.update(extra or {})
    path = folder / f"{dist}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return path


def multipart(file_name: str, data: bytes, boundary: str = "peekTestBoundary7") \
        -> tuple[str, bytes]:
    """(content type, body) of a form with one ``file`` part, as a browser sends it."""
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


class UploadServer:
    """A run_peek_server on a throwaway virtualenv layered over this one, logged in."""

    def __init__(self, root: Path, admin_overrides: Optional[dict[str, Any]] = None) -> None:
        from tests.e2e.devices_data import server_config
        from tests.security.admin_session import first_password, login
        from tests.support import ServiceProcess, make_layered_env

        self.env = root / "env"
        self.python = make_layered_env(self.env)
        self.home = root / "peek-server.home"
        self.config = server_config([])
        self.config["httpServer"]["admin"].update(admin_overrides or {})
        self.admin_port: int = self.config["httpServer"]["admin"]["sitePort"]
        self.platform_port: int = self.config["httpServer"]["platform"]["sitePort"]
        self.process = ServiceProcess("server", self.home, self.config, python=self.python)
        try:
            self.process.wait_log("Peek server is running", timeout=60)
            self.admin = login(self.admin_port, first_password(self.home))
        except BaseException:
            self.stop()
            raise

    def purelib(self) -> Path:
        return next(self.env.glob("lib/python*/site-packages"))

    def installed_here(self, package: str) -> list[str]:
        """The throwaway environment's files of ``package`` (its folder, its dist-info)."""
        return sorted(p.name for p in self.purelib().glob(f"{package}*"))

    def upload(self, file_name: str, data: bytes, csrf: bool = True,
               origin: Optional[str] = None, cookie: bool = True) -> Any:
        """POST a release as the upload page does (override the door's parts to test it)."""
        from tests.security.web_sites import raw_request

        content_type, body = multipart(file_name, data)
        headers = [("Content-Type", content_type)]
        if cookie:
            headers += [h for h in self.admin.headers(True) if h[0] == "Cookie"]
        headers.append(("Origin", origin or f"http://127.0.0.1:{self.admin_port}"))
        if csrf:
            headers.append(("X-Peek-CSRF", self.admin.csrf_token))
        return raw_request(self.admin_port, "/plugin-upload", headers, "POST", body)

    def job(self, job_id: str) -> dict[str, Any]:
        answer = self.admin.request(f"/plugin-upload/jobs/{job_id}")
        assert answer.status == 200, answer
        return json.loads(answer.body)

    def wait_job(self, job_id: str, timeout: float = 180.0) -> dict[str, Any]:
        """The job once finished (polled as the page does)."""
        from tests.support import wait_for

        return wait_for(lambda: (lambda job: job if job["finished"] else None)(
            self.job(job_id)), timeout, f"install job {job_id} to finish")

    def stop(self) -> None:
        assert self.process.stop(timeout=60) == 0, self.process.stderr()
