"""The layout's rules: import direction between layers, what the platform takes from the bus
and the contract, the plugins' bus façade (re-exports only, within a budget, and nothing takes
from it what it does not export), and no shadowing of ``platform``."""

import ast
import importlib
import re
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


def private_bus_imports(folder: Path, package: str = "peek_vortex") -> dict[str, list[str]]:
    """Map each file under ``folder`` to the private modules or names of ``package`` it
    imports (a dotted part or name starting with ``_`` below ``package``)."""
    found = {
        path: sorted(n for n in names if n.startswith(f"{package}.")
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


@pytest.mark.parametrize("layer", ["peek_platform", *SERVICES])
def test_platform_uses_only_the_contracts_public_modules_and_names(layer: str) -> None:
    """The platform and the services import the contract's public modules and names only
    (nothing starting with ``_``): what they use of the contract, a plugin can see too."""
    assert private_bus_imports(LAYERS[layer], "peek_plugin_base") == {}


@pytest.mark.parametrize("layer", ["peek_platform", *SERVICES])
def test_platform_takes_the_bus_from_peek_vortex_not_the_facade(layer: str) -> None:
    """The façade is the plugins' door: the platform and the services import bus names
    from ``peek_vortex``'s packages, so the façade holds only what plugins use."""
    offences = {
        path: sorted(n for n in names if n.split(".")[:2] == ["peek_plugin_base", "vortex"])
        for path, names in imported_modules(LAYERS[layer]).items()
    }
    assert {path: names for path, names in offences.items() if names} == {}


def test_bus_scanner_sees_private_imports(tmp_path: Path) -> None:
    """The private-module scanner catches both import forms (so the rule above can fail)."""
    (tmp_path / "bad.py").write_text(
        "import peek_vortex.wire._codec\nfrom peek_vortex.routing._router import X\n"
        "from peek_vortex.routing import PayloadRouter\n")
    assert private_bus_imports(tmp_path) == {
        "bad.py": ["peek_vortex.routing._router.X", "peek_vortex.wire._codec"]}


FACADE = LAYERS["peek_plugin_base"] / "vortex" / "__init__.py"
FACADE_MODULE = "peek_plugin_base.vortex"
#: How many names the plugins' façade may export: the seed's bus names, ours that plugins
#: use, and the errors a plugin catches or raises (its docstring says which and why). A
#: name added beyond it must push another out, or the budget must be argued up.
FACADE_BUDGET = range(35, 41)
#: Where code that imports the façade lives (everything but the façade itself).
FACADE_USERS = ("platform", "services", "plugin_base", "plugins", "tests", "scripts")
#: ``from peek_plugin_base.vortex import a, b`` in a scaffold template (not Python until
#: its placeholders are filled in).
TEMPLATE_FACADE_IMPORT = re.compile(
    r"from peek_plugin_base\.vortex import (?:\(([\w\s,]+)\)|([\w ,]+)$)", re.MULTILINE)


def facade_source() -> tuple[dict[str, str], list[str], list[str]]:
    """The façade's imports (name -> module), its ``__all__``, and anything else it does
    (dumped statements other than the docstring, the imports and ``__all__``)."""
    imported: dict[str, str] = {}
    exported: list[str] = []
    other: list[str] = []
    for node in ast.parse(FACADE.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.update({alias.asname or alias.name: node.module for alias in node.names})
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
            exported = list(ast.literal_eval(node.value))
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            other.append(ast.dump(node)[:80])
    return imported, exported, other


def test_facade_exports_exactly_what_it_imports_within_its_budget() -> None:
    """The façade defines nothing: its ``__all__`` (sorted, no repeats) is exactly the names
    it imports from public ``peek_vortex`` modules, within the budget."""
    imported, exported, other = facade_source()
    assert other == []
    assert exported == sorted(set(exported))
    assert set(exported) == set(imported)
    assert {module for module in imported.values()
            if not module.startswith("peek_vortex")
            or any(part.startswith("_") for part in module.split("."))} == set()
    assert len(exported) in FACADE_BUDGET, len(exported)
    facade = importlib.import_module(FACADE_MODULE)
    assert facade.__all__ == exported
    assert {name for name in vars(facade) if not name.startswith("_")} == set(exported)


def facade_names_used(folder: Path) -> dict[str, set[str]]:
    """Map each Python file and scaffold template under ``folder`` to the names it takes
    from the façade: ``from peek_plugin_base.vortex import X``, and ``alias.X`` after
    ``import peek_plugin_base.vortex [as alias]``."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py.tmpl")):
        names = {name.strip() for match in TEMPLATE_FACADE_IMPORT.finditer(path.read_text())
                 for name in (match.group(1) or match.group(2)).split(",") if name.strip()}
        found[str(path.relative_to(folder))] = names
    for path in sorted(folder.rglob("*.py")):
        if path == FACADE:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == FACADE_MODULE:
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                aliases.update(alias.asname or alias.name for alias in node.names
                               if alias.name == FACADE_MODULE)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and ast.unparse(node.value) in aliases
                    and not node.attr.startswith("__")):
                names.add(node.attr)
        found[str(path.relative_to(folder))] = names
    return {path: names for path, names in found.items() if names}


@pytest.mark.parametrize("folder", FACADE_USERS)
def test_nothing_takes_from_the_facade_what_it_does_not_export(folder: str) -> None:
    """Every name any code (platform, services, plugins, scaffold templates, tests,
    scripts) takes from ``peek_plugin_base.vortex`` is in its ``__all__``."""
    exported = set(importlib.import_module(FACADE_MODULE).__all__)
    offences = {path: sorted(names - exported)
                for path, names in facade_names_used(REPO / folder).items()
                if names - exported}
    assert offences == {}


def test_facade_scanner_sees_every_form(tmp_path: Path) -> None:
    """The façade-name scanner reads from-imports, module attributes (aliased or not) and
    scaffold templates (so the rule above can fail)."""
    (tmp_path / "a.py").write_text(
        "from peek_plugin_base.vortex import Tuple, LocalSender as L\n"
        "import peek_plugin_base.vortex as v\nimport peek_plugin_base.vortex\n"
        "v.default_codec\npeek_plugin_base.vortex.VortexCodec\n")
    (tmp_path / "b.py.tmpl").write_text(
        "__X__from peek_plugin_base.vortex import (\n    Tuple,\n    ObservableMessages,\n)\n"
        "from peek_plugin_base.vortex import vortexRPC, Originator\nfrom __PKG__ import x\n")
    assert facade_names_used(tmp_path) == {
        "a.py": {"Tuple", "LocalSender", "default_codec", "VortexCodec"},
        "b.py.tmpl": {"Tuple", "ObservableMessages", "vortexRPC", "Originator"},
    }


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
