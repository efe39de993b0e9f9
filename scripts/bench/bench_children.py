"""Child processes for the bus benchmarks: spawn, read tagged stdout lines, stop by handle."""

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent


class Child:
    """One benchmark process; its stdout is read line by line, stderr kept for errors."""

    def __init__(self, args: list[str], python: Optional[str] = None,
                 env: Optional[dict[str, str]] = None) -> None:
        self.args = args
        # stderr goes to a file: a full pipe nobody reads would stall the child.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [python or sys.executable, "-W", "ignore", *args], cwd=HERE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[Optional[str]] = queue.Queue()
        # A thread per pipe: a buffered text pipe cannot be select()ed line by line.
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read_tagged(self, tag: str, timeout: float) -> str:
        """The rest of the next stdout line starting with ``tag`` (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(tag):
                return line[len(tag):].strip()
        self.stop()
        self._stderr.seek(0)
        err = self._stderr.read()[-1500:]
        raise RuntimeError(
            f"{self.args[:4]} did not print {tag!r} in {timeout}s; "
            f"last lines {self.lines[-3:]}; stderr: {err}"
        )

    def stop(self) -> None:
        """Terminate (then kill) this process, by its handle."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def vortexpy_python() -> str:
    """The VortexPY venv's interpreter, creating the venv (setup_vortexpy_venv.sh) if needed."""
    venv = Path(os.environ.get("VPY_VENV", "/tmp/vpy-venv"))
    subprocess.run([str(HERE / "setup_vortexpy_venv.sh")], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "VPY_VENV": str(venv)})
    return str(venv / "bin" / "python")


def module_child(module: str, args: list[str], python: Optional[str] = None,
                 env: Optional[dict[str, str]] = None) -> Child:
    """Run ``module.main()`` (imported from this folder, not as ``__main__``) with ``args``."""
    return Child(["-c", f"import {module} as m; m.main()", *args], python=python, env=env)
