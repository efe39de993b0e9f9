"""Install or update a plugin by uploading its release on the admin site.

Routes (all behind the admin login gate of :mod:`peek_platform.admin.site`; POSTs need the
admin site's Origin and the session's CSRF token in ``X-Peek-CSRF``):

===============================  ======  ================================================
path                             method  what
===============================  ======  ================================================
``/plugin-upload``               GET     the upload page
``/plugin-upload``               POST    multipart/form-data with one ``file`` part (the
                                         wheel or sdist): 202 and the job as JSON, or 4xx
                                         with ``{"error", "message"}`` naming what was wrong
``/plugin-upload/jobs/<id>``     GET     the job as JSON (the page polls it)
``/plugin-upload/installed``     GET     installed plugins (``peek.plugins``) as JSON, with
                                         their state on this server
``/plugin-upload/enable``        POST    JSON ``{"plugin": name}``: enable it on the server
===============================  ======  ================================================

A job goes through the stages ``received`` → ``checking`` (file name, archive safety and
size, the plugin package and its ``plugin_package.json``: see
:mod:`peek_platform.admin.plugin_release`; the POST answers only after this stage, with 202
or with the refusal) → ``installing`` (``python -m pip install
--no-deps --no-index --no-build-isolation --force-reinstall`` run by this server's own
interpreter in a child process; its output lines are kept on the job) → ``verifying``
(import caches refreshed, the plugin found through ``peek.plugins``) → ``reloading`` (only
when the plugin was already running on the server) → ``done``, or ``failed`` with the
reason. One job runs at a time; an upload while one runs is refused with 409.
"""

import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet import protocol, threads
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from peek_platform.admin import site as admin_site
from peek_platform.admin.plugin_release import ReleaseInfo, check_file_name, check_release
from peek_platform.config import ServiceConfig
from peek_platform.errors import PluginControlError, PluginUploadError
from peek_platform.plugin.discovery import installed_plugins, plugin_problem
from peek_platform.plugin.host import PluginHost

logger = logging.getLogger(__name__)

PATH = b"plugin-upload"
#: Output lines of pip kept on a job (the newest).
MAX_LOG_LINES = 400
_MAX_LINE_CHARS = 400
#: Finished jobs kept for the page to read.
KEEP_JOBS = 20
#: Room for the multipart framing around the file.
_MULTIPART_SLACK = 64 * 1024


@dataclass
class InstallJob:
    """One upload's progress, as the page shows it."""

    id: str
    file_name: str
    user: str
    state: str = "received"
    stages: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    error: Optional[str] = None
    plugin: Optional[str] = None
    version: Optional[str] = None
    enabled_on_server: bool = False

    def stage(self, name: str) -> None:
        self.state = name
        self.stages.append({"stage": name, "at": time.time()})
        logger.info("plugin upload %s (%s): %s", self.id, self.file_name, name)

    def line(self, text: str) -> None:
        self.log.append(text[:_MAX_LINE_CHARS])
        del self.log[:-MAX_LOG_LINES]

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "file": self.file_name, "user": self.user,
                "state": self.state, "finished": self.finished, "stages": self.stages,
                "log": self.log, "error": self.error, "plugin": self.plugin,
                "version": self.version, "enabledOnServer": self.enabled_on_server,
                "url": f"/plugin-upload/jobs/{self.id}"}


class _PipProtocol(protocol.ProcessProtocol):
    """Feeds pip's output to the job line by line; fires with the exit code."""

    def __init__(self, job: InstallJob) -> None:
        self.job = job
        self.done: Deferred[int] = Deferred()
        self._partial = {1: b"", 2: b""}

    def childDataReceived(self, fd: int, data: bytes) -> None:  # noqa: N802 - twisted API
        buffered = self._partial.get(fd, b"") + data
        *lines, self._partial[fd] = buffered.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.job.line(text)

    def processEnded(self, reason: Failure) -> None:  # noqa: N802 - twisted API
        for rest in self._partial.values():
            if rest.strip():
                self.job.line(rest.decode("utf-8", "replace").rstrip())
        code = 0 if reason.check(ProcessDone) else getattr(reason.value, "exitCode", None)
        self.done.callback(-1 if code is None else int(code))


class PluginInstaller(Service):
    """Runs upload jobs one at a time: check, pip install, verify, reload if running."""

    name = "plugin-installer"

    def __init__(self, config: ServiceConfig, host: PluginHost) -> None:
        self.host = host
        self.max_bytes: int = config["httpServer.admin.pluginUploadMaxBytes"]
        self.max_unpacked: int = config["httpServer.admin.pluginUploadMaxUnpackedBytes"]
        self.timeout: float = float(config["httpServer.admin.pluginInstallTimeoutSeconds"])
        self.python = sys.executable
        self.jobs: OrderedDict[str, InstallJob] = OrderedDict()
        self._running: Optional[Deferred[None]] = None
        self._spool = Path(config.home) / "plugin-uploads"

    def busy(self) -> Optional[InstallJob]:
        """The job still running, if any."""
        for job in self.jobs.values():
            if not job.finished:
                return job
        return None

    async def submit(self, file_name: str, user: str, data: memoryview) -> InstallJob:
        """Keep the upload in a private folder, check it, and start installing it.

        Raises PluginUploadError (the job, if one was made, shows ``failed``) when another
        install runs or the release is refused; nothing is installed then.
        """
        check_file_name(file_name)
        running = self.busy()
        if running is not None:
            raise PluginUploadError(file_name, f"another install ({running.file_name}, job "
                                    f"{running.id}) is running; wait for it to finish", 409)
        job = InstallJob(secrets.token_hex(8), file_name, user)
        self.jobs[job.id] = job
        while len(self.jobs) > KEEP_JOBS and next(iter(self.jobs.values())).finished:
            self.jobs.popitem(last=False)
        job.stage("received")
        folder = None
        try:
            self._spool.mkdir(mode=0o700, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix=f"{job.id}-", dir=self._spool))
            path = folder / file_name
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(data)
            job.stage("checking")
            info: ReleaseInfo = await threads.deferToThread(
                check_release, path, job.file_name, self.max_unpacked)
        except Exception as e:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            error = e if isinstance(e, PluginUploadError) else PluginUploadError(
                file_name, f"could not be kept for checking: {e}", 500)
            job.error = str(error)
            job.stage("failed")
            raise error from None
        job.plugin, job.version = info.package, info.version
        job.line(f"checked: {info.kind} of {info.distribution} {info.version}, plugin "
                 f"package {info.package} ({info.title})")
        self._running = Deferred.fromCoroutine(self._install(job, info, path, folder))
        return job

    async def _install(self, job: InstallJob, info: ReleaseInfo, path: Path,
                       folder: Path) -> None:
        try:
            job.stage("installing")
            code = await self._pip(job, path)
            if code != 0:
                raise PluginUploadError(job.file_name, f"pip install failed (exit code "
                                        f"{code}); see its output")
            job.stage("verifying")
            self.host.refresh_imports()
            problem = plugin_problem(info.package)
            if problem is None and info.package not in installed_plugins():
                problem = f"{info.package} is not listed in the peek.plugins entry points"
            if problem is not None:
                raise PluginUploadError(job.file_name, f"pip installed it, but it is not "
                                        f"usable as a plugin: {problem}")
            # Enabled on the server (running, or failed with the old code): run the new one.
            record = self.host.records.get(info.package)
            job.enabled_on_server = record is not None and not record.elsewhere
            if job.enabled_on_server:
                job.stage("reloading")
                try:
                    await self.host.reload_plugin(info.package)
                except PluginControlError as e:
                    raise PluginUploadError(
                        job.file_name, f"{info.package} {info.version} is installed, but it "
                        f"does not run on the server: {e.reason}") from None
            job.stage("done")
            logger.info("plugin %s %s installed by admin %s from %s", info.package,
                        info.version, job.user, job.file_name)
        except PluginUploadError as e:
            job.error = str(e)
            job.stage("failed")
            logger.warning("plugin upload %s failed: %s", job.id, e)
        except Exception as e:
            job.error = f"plugin release {job.file_name}: unexpected error {e!r}"
            job.stage("failed")
            logger.exception("plugin upload %s failed", job.id)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def _pip(self, job: InstallJob, path: Path) -> int:
        from twisted.internet import reactor

        args = [self.python, "-m", "pip", "install", "--no-deps", "--no-index",
                "--no-build-isolation", "--force-reinstall", "--disable-pip-version-check",
                "--no-input", "--progress-bar", "off", str(path)]
        job.line("$ " + " ".join(args[1:]))
        env = dict(os.environ, PYTHONUNBUFFERED="1", PIP_NO_INPUT="1")
        pip = _PipProtocol(job)
        process = reactor.spawnProcess(pip, self.python, args, env=env,
                                       path=str(path.parent))
        timer = reactor.callLater(self.timeout, self._kill, job, process)
        try:
            return await pip.done
        finally:
            if timer.active():
                timer.cancel()

    def _kill(self, job: InstallJob, process: Any) -> None:
        job.line(f"pip did not finish within {self.timeout:g} s "
                 "(httpServer.admin.pluginInstallTimeoutSeconds); stopping it")
        try:
            process.signalProcess("KILL")
        except Exception:
            pass

    def stopService(self) -> Optional["Deferred[None]"]:  # noqa: N802 - twisted API
        super().stopService()
        # Never leave pip half-way through writing site-packages: wait for it.
        if self._running is not None and not self._running.called:
            logger.info("waiting for the running plugin install to finish")
            return self._running
        return None


def _json(request: Request, status: int, body: dict[str, Any] | list[Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    return json.dumps(body).encode()


def _refusal(request: Request, error: PluginUploadError) -> bytes:
    logger.warning("plugin upload refused: %s", error)
    return _json(request, error.status, {"error": "PluginUploadRefused",
                                         "file": error.file_name, "message": str(error)})


def file_part(body: bytes, content_type: bytes) -> tuple[str, memoryview]:
    """The ``file`` part's file name and content of a multipart/form-data body."""
    header = Message()
    header["content-type"] = content_type.decode("latin-1")
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise PluginUploadError("(unknown)", "send the release as multipart/form-data with "
                                "a 'file' part", 415)
    delimiter = b"--" + boundary.encode("latin-1")
    view = memoryview(body)
    position = body.find(delimiter)
    while position >= 0:
        start = position + len(delimiter)
        if body[start:start + 2] == b"--":
            break
        head_end = body.find(b"\r\n\r\n", start)
        end = body.find(b"\r\n" + delimiter, head_end)
        if head_end < 0 or end < 0:
            break
        part = Message()
        for line in body[start:head_end].decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                key, value = line.split(":", 1)
                part[key.strip()] = value.strip()
        if part.get_param("name", header="content-disposition") == "file":
            name = part.get_param("filename", header="content-disposition")
            return (name if isinstance(name, str) else ""), view[head_end + 4:end]
        position = end + 2
    raise PluginUploadError("(unknown)", "the form has no 'file' part holding the release")


class UploadPage(Resource):
    """``/plugin-upload``: the page (GET), the upload (POST), and its children."""

    def __init__(self, installer: PluginInstaller) -> None:
        super().__init__()
        self.installer = installer
        self.putChild(b"jobs", _Jobs(installer))
        self.putChild(b"installed", _Installed(installer))
        self.putChild(b"enable", _Enable(installer))

    def getChild(self, path: bytes, request: Request) -> Resource:  # noqa: N802
        if path == b"":
            return self
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        session = request.peek_admin_session  # type: ignore[attr-defined]
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        limit = self.installer.max_bytes
        return admin_site.layout("Install plugin", f"""<h1>Install or update a plugin</h1>
<p>Upload a plugin release (a wheel <code>.whl</code> or an sdist <code>.tar.gz</code>) of at
most {limit / (1024 * 1024):g} MiB. It is checked, then installed into this server's Python
environment with pip. Other hosts need the same release installed there.</p>
<form id="plugin-upload" data-max-bytes="{limit}">
<label>Release <input type="file" name="file" accept=".whl,.tar.gz,.zip" required></label>
<button type="submit">Upload and install</button></form>
<section id="upload-progress" aria-live="polite" hidden>
<h2>Progress: <span id="upload-state"></span></h2>
<ol id="upload-stages"></ol>
<pre id="upload-log"></pre>
<p id="upload-result" role="status"></p>
<button id="upload-enable" type="button" hidden>Enable on the server</button>
</section>
<h2>Installed plugins</h2>
<table id="installed-plugins"><thead><tr><th>Plugin</th><th>Version</th>
<th>On this server</th></tr></thead><tbody></tbody></table>
<script type="module" src="/admin-ui/plugin-upload.js"></script>
""", session)

    def render_POST(self, request: Request) -> Any:  # noqa: N802 - twisted API
        Deferred.fromCoroutine(self._upload(request))
        return NOT_DONE_YET

    async def _upload(self, request: Request) -> None:
        session = request.peek_admin_session  # type: ignore[attr-defined]
        limit = self.installer.max_bytes
        content = request.content
        content.seek(0, os.SEEK_END)
        size = content.tell()
        try:
            if size > limit + _MULTIPART_SLACK:
                raise PluginUploadError(
                    "(upload)", f"the upload is {size} bytes; at most {limit} are accepted "
                    "(httpServer.admin.pluginUploadMaxBytes)", 413)
            content.seek(0)
            file_name, data = file_part(content.read(),
                                        request.getHeader(b"content-type") or b"")
            if len(data) > limit:
                raise PluginUploadError(
                    file_name, f"the file is {len(data)} bytes; at most {limit} are "
                    "accepted (httpServer.admin.pluginUploadMaxBytes)", 413)
            job = await self.installer.submit(file_name, session.user, data)
        except PluginUploadError as e:
            body = _refusal(request, e)
        except Exception as e:
            logger.exception("plugin upload failed")
            body = _json(request, 500, {"error": "InternalError",
                                        "message": f"the upload could not be handled: {e}"})
        else:
            body = _json(request, 202, job.as_dict())
        if not request._disconnected:
            request.write(body)
            request.finish()


class _Jobs(Resource):
    def __init__(self, installer: PluginInstaller) -> None:
        super().__init__()
        self.installer = installer

    def getChild(self, path: bytes, request: Request) -> Resource:  # noqa: N802
        job = self.installer.jobs.get(path.decode("ascii", "replace"))
        if job is None:
            return _JsonAnswer(404, {"error": "NoSuchJob",
                                     "message": "no install job with that id"})
        return _JsonAnswer(200, job.as_dict())


class _JsonAnswer(Resource):
    isLeaf = True

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__()
        self.status = status
        self.body = body

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        return _json(request, self.status, self.body)


class _Installed(Resource):
    isLeaf = True

    def __init__(self, installer: PluginInstaller) -> None:
        super().__init__()
        self.installer = installer

    def render_GET(self, request: Request) -> bytes:  # noqa: N802 - twisted API
        host = self.installer.host
        host.refresh_imports()
        rows = []
        for name, version in installed_plugins().items():
            record = host.records.get(name)
            rows.append({"plugin": name, "version": version,
                         "serverState": record.state.value if record else "not enabled",
                         "serverReason": record.reason if record else None})
        return _json(request, 200, rows)


class _Enable(Resource):
    isLeaf = True

    def __init__(self, installer: PluginInstaller) -> None:
        super().__init__()
        self.installer = installer

    def render_POST(self, request: Request) -> Any:  # noqa: N802 - twisted API
        try:
            body = json.loads(request.content.read(64 * 1024).decode("utf-8"))
            name = body["plugin"]
            if not isinstance(name, str):
                raise TypeError("plugin must be a string")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            return _json(request, 400, {"error": "BadRequest", "message":
                                        f'send JSON {{"plugin": "<name>"}}: {e}'})
        Deferred.fromCoroutine(self._enable(request, name))
        return NOT_DONE_YET

    async def _enable(self, request: Request, name: str) -> None:
        try:
            await self.installer.host.enable_plugin(name)
        except PluginControlError as e:
            body = _json(request, 409, {"error": "PluginControlError", "plugin": name,
                                        "message": str(e)})
        else:
            body = _json(request, 200, {"plugin": name, "state": "running"})
        if not request._disconnected:
            request.write(body)
            request.finish()


def install_upload(root: admin_site.AdminSiteRoot, config: ServiceConfig, host: PluginHost,
                   add_service: Callable[[Service], None]) -> PluginInstaller:
    """Mount ``/plugin-upload`` on the admin site, list it in the nav, and run the
    installer as a service (so shutdown waits for a running pip)."""
    installer = PluginInstaller(config, host)
    root.putChild(PATH, UploadPage(installer))
    # A session may send a release (plus the form's framing); bodies stay bounded by it.
    root.max_body_bytes = installer.max_bytes + _MULTIPART_SLACK
    entry = ("/plugin-upload", "Install plugin")
    if entry not in admin_site.NAV:
        admin_site.NAV.append(entry)
    add_service(installer)
    return installer

