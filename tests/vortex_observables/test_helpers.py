"""deferToThreadWrap runs work in the reactor's thread pool; filterModules lists siblings."""

import subprocess
import sys
import textwrap
from pathlib import Path

from peek_plugin_base.vortex import filterModules

_THREAD_SCRIPT = textwrap.dedent(
    """
    import threading
    from twisted.internet import reactor
    from twisted.internet.defer import DeferredList
    from peek_plugin_base.vortex import deferToThreadWrap

    class Provider:
        @deferToThreadWrap
        def read(self, x):
            return (x * 2, threading.current_thread() is threading.main_thread())

    @deferToThreadWrap
    def broken():
        raise ValueError("nope")

    out = []

    def run():
        d = Provider().read(21)
        d.addCallback(lambda r: out.append(("ok", r, Provider.read.__name__)))
        e = broken()
        e.addErrback(lambda f: out.append(("err", f.getErrorMessage(), f.type.__name__)))
        # Stop only once both have answered, whichever thread finishes first.
        DeferredList([d, e]).addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.callLater(20, reactor.stop)
    reactor.run()
    # The two pool calls finish in either order; the result set is what matters.
    print(sorted(out))
    """
)


def test_defer_to_thread_wrap_runs_in_a_pool_thread_and_returns_a_deferred() -> None:
    """The wrapped method runs off the main thread; result and exception come back."""
    done = subprocess.run(
        [sys.executable, "-c", _THREAD_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "[('err', 'nope', 'ValueError'), ('ok', (42, False), 'read')]"
    )


def test_filter_modules_lists_sibling_modules_and_packages(tmp_path: Path) -> None:
    """Modules and packages beside the file are listed with dotted names; __init__, private
    and test modules and non-package folders are not."""
    pkg = tmp_path / "tuples"
    pkg.mkdir()
    for name in (
        "__init__.py", "TaskTuple.py", "b_tuple.py", "_private.py", "test_tuples.py",
        "ThingTest.py", "notes.txt", "compiled.pyc", "b_tuple.pyc",
    ):
        (pkg / name).write_text("")
    (pkg / "sub").mkdir()
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "data").mkdir()
    assert list(filterModules("plug.tuples", str(pkg / "__init__.py"))) == [
        "plug.tuples.TaskTuple", "plug.tuples.b_tuple", "plug.tuples.compiled",
        "plug.tuples.sub",
    ]
