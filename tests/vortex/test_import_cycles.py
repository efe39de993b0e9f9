"""The bus package's import graph has no cycles (module-level and function-level imports)."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

BUS = REPO / "platform" / "peek_vortex"


def module_files(folder: Path, package: str) -> dict[str, Path]:
    """Every module under ``folder`` by dotted name (a package is its ``__init__``)."""
    modules = {}
    for path in folder.rglob("*.py"):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def ancestors(module: str) -> list[str]:
    """The packages containing ``module``, outermost first (``a.b.c`` -> ``a``, ``a.b``)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_targets(path: Path, module: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``module`` (file ``path``) imports anywhere in its
    body: at module level, inside functions and inside ``if`` blocks alike."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from a.b import c`` imports the module a.b.c when there is one.
                child = f"{base}.{alias.name}"
                targets.add(child if child in modules else base)
    return {t for t in targets if t in modules}


def import_graph(folder: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules importing it runs, within ``package``.

    Importing ``a.b.c`` also runs the ``__init__`` of every package around it that the
    importer is not itself inside (those have started already): ``from a.wire.x import y``
    in ``a.tuples.t`` runs ``a/wire/__init__.py`` first, so that is an edge as well.
    """
    files = module_files(folder, package)
    names = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        own = {module, *ancestors(module)}
        edges: set[str] = set()
        for target in imported_targets(path, module, names):
            edges.update(m for m in (*ancestors(target), target) if m not in own and m in names)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected group of modules, if any."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        # Tarjan's algorithm; the graph is a few dozen modules, so recursion is fine.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A concrete cycle through the group's smallest member (breadth-first, so shortest)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def test_the_bus_has_no_import_cycles() -> None:
    """No peek_vortex module imports, directly or through others (including the package
    ``__init__`` files an import runs, and imports inside functions), a module that imports
    it back."""
    graph = import_graph(BUS, "peek_vortex")
    assert len(graph) > 30  # the scan found the bus's modules
    assert graph["peek_vortex.wire._codec"] >= {"peek_vortex.tuples", "peek_vortex.tuples._tuples"}
    assert [" -> ".join(cycle) for cycle in find_cycles(graph)] == []


def test_cycle_finder_sees_direct_lazy_and_package_cycles(tmp_path: Path) -> None:
    """The scan catches a cycle through a function-level import, a relative import and one
    through a package ``__init__`` that imports its submodule (so the rule above can fail)."""
    pkg = tmp_path / "pkg"
    for folder in (pkg, pkg / "wire", pkg / "tuples"):
        folder.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "wire" / "__init__.py").write_text("from pkg.wire._codec import encode\n")
    (pkg / "wire" / "_codec.py").write_text("from pkg.tuples._tuples import Tuple\n")
    (pkg / "wire" / "constants.py").write_text("TAG = '~d'\n")
    (pkg / "tuples" / "__init__.py").write_text("")
    (pkg / "tuples" / "_tuples.py").write_text(
        "class Tuple:\n    def f(self):\n        from ..wire.constants import TAG\n")
    (pkg / "a.py").write_text("def f():\n    import pkg.b\n")
    (pkg / "b.py").write_text("from . import a\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.tuples._tuples"] == {"pkg.wire", "pkg.wire.constants"}
    assert sorted(find_cycles(graph)) == [
        ["pkg.a", "pkg.b", "pkg.a"],
        ["pkg.tuples._tuples", "pkg.wire", "pkg.wire._codec", "pkg.tuples._tuples"],
    ]


def test_tuple_json_form_works_with_only_the_tuples_imported() -> None:
    """Tuple.toJsonDict/fromJsonDict work in a program that imports only
    ``peek_vortex.tuples`` (the wire, which owns that form, is installed by the package)."""
    script = (
        "from peek_vortex.tuples import Tuple, TupleField, addTupleType\n"
        "@addTupleType\n"
        "class Point(Tuple):\n"
        "    __tupleType__ = 'test.Point'\n"
        "    x = TupleField()\n"
        "print(Tuple.fromJsonDict(Point(x=b'1').toJsonDict()).x)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "b'1'"
