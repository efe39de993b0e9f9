"""The layout's rules: import direction between layers, and no shadowing of ``platform``."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

SERVICES = ("peek_server", "peek_client", "peek_agent", "peek_worker")
LAYERS = {
    "peek_vortex": REPO / "platform" / "peek_vortex",
    "peek_plugin_base": REPO / "plugin_base" / "peek_plugin_base",
    "peek_platform": REPO / "platform" / "peek_platform",
    **{name: REPO / "services" / name.removeprefix("peek_") / name for name in SERVICES},
}
#: What each layer must never import.
FORBIDDEN = {
    "peek_vortex": {"peek_plugin_base", "peek_platform", *SERVICES},
    "peek_plugin_base": {"peek_platform", *SERVICES},
    "peek_platform": set(SERVICES),
    **{name: set(SERVICES) - {name} for name in SERVICES},
}
PLATFORM_PACKAGES = {"peek_platform", *SERVICES}


#: Files that may import the platform inside functions only (never at module import time):
#: the plugin test harness reuses the platform's plugin host and storage code.
LAZY_PLATFORM_IMPORTS = {"testing/harness.py"}


def imported_top_levels(folder: Path) -> dict[str, set[str]]:
    """Map each .py file under ``folder`` (relative to it) to the top-level packages it imports."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        lazy = str(path.relative_to(folder)) in LAZY_PLATFORM_IMPORTS
        for node in (tree.body if lazy else ast.walk(tree)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(folder))] = names
    return found


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_only_downwards(layer: str) -> None:
    """peek_vortex <- peek_plugin_base <- peek_platform <- services; services never import
    each other."""
    offences = {
        path: sorted(names & FORBIDDEN[layer])
        for path, names in imported_top_levels(LAYERS[layer]).items()
        if names & FORBIDDEN[layer]
    }
    assert offences == {}


def private_bus_imports(folder: Path) -> dict[str, list[str]]:
    """Map each file under ``folder`` to the private bus modules it imports (a dotted part
    or name starting with ``_`` below ``peek_vortex``)."""
    found = {
        path: sorted(n for n in names if n.startswith("peek_vortex.")
                     and any(part.startswith("_") for part in n.split(".")[1:]))
        for path, names in imported_modules(folder).items()
    }
    return {path: names for path, names in found.items() if names}


@pytest.mark.parametrize("layer", sorted(set(LAYERS) - {"peek_vortex"}))
def test_layers_use_only_the_public_bus(layer: str) -> None:
    """The contract, the platform and the services import the bus's packages
    (``peek_vortex.wire``, ``.routing``, ...), never its private ``_`` modules."""
    assert private_bus_imports(LAYERS[layer]) == {}


def test_plugins_reach_the_bus_only_through_the_contract() -> None:
    """Example plugins import ``peek_plugin_base.vortex`` (the façade), not ``peek_vortex``."""
    offences = {
        path: sorted(names & {"peek_vortex"})
        for path, names in imported_top_levels(REPO / "plugins").items()
        if "peek_vortex" in names
    }
    assert offences == {}


def test_bus_scanner_sees_private_imports(tmp_path: Path) -> None:
    """The private-module scanner catches both import forms (so the rule above can fail)."""
    (tmp_path / "bad.py").write_text(
        "import peek_vortex.wire._codec\nfrom peek_vortex.routing._router import X\n"
        "from peek_vortex.routing import PayloadRouter\n")
    assert private_bus_imports(tmp_path) == {
        "bad.py": ["peek_vortex.routing._router.X", "peek_vortex.wire._codec"]}


def test_plugins_import_only_the_plugin_contract() -> None:
    """Example plugins import peek_plugin_base (and third parties), never the platform."""
    offences = {
        path: sorted(names & PLATFORM_PACKAGES)
        for path, names in imported_top_levels(REPO / "plugins").items()
        if names & PLATFORM_PACKAGES
    }
    assert offences == {}


TUTORIAL_PRIVATE = REPO / "plugins" / "peek-plugin-tutorial" / "peek_plugin_tutorial" / "_private"
#: Within the tutorial plugin, what each service's private package must never import (RPC
#: declarations shared by two sides live in ``_private/rpc``).
TUTORIAL_FORBIDDEN = {
    "agent": ("peek_plugin_tutorial._private.server", "peek_plugin_tutorial._private.client"),
    "rpc": ("peek_plugin_tutorial._private.server", "peek_plugin_tutorial._private.agent",
            "peek_plugin_tutorial._private.client"),
    "server": ("peek_plugin_tutorial._private.agent", "peek_plugin_tutorial._private.client"),
}


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """Map each .py file under ``folder`` to the full module names it imports (absolute)."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import; the rules read full names"
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(folder))] = names
    return found


@pytest.mark.parametrize("side", sorted(TUTORIAL_FORBIDDEN))
def test_tutorial_sides_do_not_import_each_others_private_modules(side: str) -> None:
    """The tutorial's agent calls the server's RPCs through ``_private/rpc``, never by
    importing ``_private/server`` (which a service without the server code cannot load)."""
    forbidden = TUTORIAL_FORBIDDEN[side]
    offences = {
        path: sorted(n for n in names if n.startswith(forbidden))
        for path, names in imported_modules(TUTORIAL_PRIVATE / side).items()
        if any(n.startswith(forbidden) for n in names)
    }
    assert offences == {}


def test_scanner_sees_forbidden_imports(tmp_path: Path) -> None:
    """The scanner itself catches both import forms (so the rules above can fail)."""
    (tmp_path / "bad.py").write_text("import peek_server.main\nfrom peek_platform import x\n")
    assert imported_top_levels(tmp_path) == {"bad.py": {"peek_server", "peek_platform"}}


def test_harness_imports_no_services_even_lazily() -> None:
    """The harness's lazy imports reach peek_platform only, never a service package."""
    tree = ast.parse((LAYERS["peek_plugin_base"] / "testing" / "harness.py").read_text())
    names = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    assert names & set(SERVICES) == set()
    assert "peek_platform" in names


def test_contract_imports_without_the_platform() -> None:
    """Importing peek_plugin_base.testing does not import peek_platform."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, peek_plugin_base.testing; "
         "print(any(m.startswith('peek_platform') for m in sys.modules))"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_stdlib_platform_is_not_shadowed() -> None:
    """``import platform`` from the repository root still gives the standard library."""
    assert not (REPO / "platform" / "__init__.py").exists()
    done = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Linux"
