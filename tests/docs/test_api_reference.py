"""The generated API references document every public name: of each peek_plugin_base
module (the plugin contract), every name of the plugins' bus façade on its own page, and
each public peek_vortex package (the bus reference for platform developers)."""

import importlib
import inspect
import io
import pkgutil
import sys

import pytest

from tests.support import REPO

pytest.importorskip("sphinx", reason="the docs extra (pip install -e '.[docs]') is not installed")
from sphinx.application import Sphinx  # noqa: E402

sys.path.insert(0, str(REPO / "docs" / "_ext"))
import peek_docs  # noqa: E402

#: The packages with a generated reference.
PACKAGES = ("peek_plugin_base", "peek_vortex")
FACADE = "peek_plugin_base.vortex"


def _all_modules(package: str) -> list[str]:
    """Every module of ``package`` without a private part in its path, found by import."""
    root = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(info.name)
    return found


def _expected() -> dict[str, set[str]]:
    """For each public name (``module.name``), the inventory entries that would document it.

    Classes and functions count when the contract or the bus defines them (a re-export is
    documented where it is defined, or at its home when that is private); other values
    when the module assigns them itself or lists them in ``__all__``.
    """
    expected: dict[str, set[str]] = {}
    for package in PACKAGES:
        for module_name in _all_modules(package):
            module = importlib.import_module(module_name)
            own = set(peek_docs.own_names(module))
            listed = set(getattr(module, "__all__", ()))
            for name in dir(module):
                value = getattr(module, name)
                if name.startswith("_") or name in peek_docs.NOT_API or inspect.ismodule(value):
                    continue
                here = f"{module_name}.{name}"
                if inspect.isclass(value) or inspect.isroutine(value):
                    if not getattr(value, "__module__", "").startswith(PACKAGES):
                        continue
                    expected[here] = {here, f"{value.__module__}.{value.__qualname__}",
                                      peek_docs.canonical_name(value, name) or here}
                elif name in own or name in listed:
                    expected[here] = {here, peek_docs.canonical_name(value, name) or here}
    return expected


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Build both references (no warning allowed) and return the names they index."""
    tmp_path = tmp_path_factory.mktemp("docs")
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'docs' / '_ext')!r})\n"
        "extensions = ['sphinx.ext.autodoc', 'peek_docs']\n"
        "autodoc_member_order = 'bysource'\n"
        "autodoc_typehints = 'description'\n"
        "autodoc_inherit_docstrings = False\n"
    )
    (src / "index.rst").write_text(
        "Reference\n=========\n\n.. toctree::\n\n   _generated/api/index\n"
        "   _generated/bus/index\n"
    )
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"),
                 "dummy", status=None, warning=warnings, freshenv=True)
    app.build()
    assert warnings.getvalue() == "", warnings.getvalue()
    # Aliases (autodoc's ``:canonical:`` path of a re-exported class) are not pages' names.
    return {name for name, entry in app.env.domains["py"].objects.items() if not entry.aliased}


def test_reference_lists_every_public_name(documented: set[str]) -> None:
    """Building the references warns about nothing and indexes each public name of the
    contract and the bus (or its home)."""
    expected = _expected()
    assert len(expected) > 300, "the walk found too few names to be the contract and the bus"
    missing = sorted(name for name, homes in expected.items() if not homes & documented)
    assert missing == [], f"public names missing from the API reference: {missing}"


def test_the_facade_page_documents_every_name_it_exports(documented: set[str]) -> None:
    """A plugin developer finds the whole bus API on the façade's page: each name of its
    ``__all__`` is documented as ``peek_plugin_base.vortex.<name>``, though the classes
    are defined in ``peek_vortex``."""
    exported = importlib.import_module(FACADE).__all__
    assert sorted(n for n in exported if f"{FACADE}.{n}" not in documented) == []


def test_bus_names_plugins_use_link_to_the_facade() -> None:
    """On the bus reference, a name the façade exports (defined in a private bus module)
    points to the façade's page rather than being documented twice."""
    page = peek_docs._module_page("peek_vortex.tuples")
    assert f":py:obj:`Tuple <{FACADE}.Tuple>`" in page
    assert "registeredTupleNames" in page.split("Also importable")[0]


def test_no_documented_name_has_a_private_part(documented: set[str]) -> None:
    """Every name the references document is an import path (no ``_module`` in it), so
    the façade's classes appear under the façade, not under ``peek_vortex.tuples._tuples``
    (that path is only an alias Sphinx keeps so references to it still resolve)."""
    private = sorted(name for name in documented
                     if name.startswith(PACKAGES) and peek_docs._is_private(name))
    assert private == []
