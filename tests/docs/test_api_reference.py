"""The generated API reference documents every public name of every peek_plugin_base module."""

import importlib
import inspect
import io
import pkgutil
import sys
from pathlib import Path

import pytest

from tests.support import REPO

pytest.importorskip("sphinx", reason="the docs extra (pip install -e '.[docs]') is not installed")
from sphinx.application import Sphinx  # noqa: E402

sys.path.insert(0, str(REPO / "docs" / "_ext"))
import peek_docs  # noqa: E402

import peek_plugin_base  # noqa: E402


def _all_modules() -> list[str]:
    """Every peek_plugin_base module without a private part in its path, found by import."""
    found = ["peek_plugin_base"]
    for info in pkgutil.walk_packages(peek_plugin_base.__path__, prefix="peek_plugin_base."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(info.name)
    return found


def _expected() -> dict[str, set[str]]:
    """For each public name (``module.name``), the inventory entries that would document it.

    Classes and functions count when peek_plugin_base defines them (re-exports are
    documented where they are defined); other values when the module assigns them itself
    or lists them in ``__all__``.
    """
    expected: dict[str, set[str]] = {}
    for module_name in _all_modules():
        module = importlib.import_module(module_name)
        own = set(peek_docs.own_names(module))
        listed = set(getattr(module, "__all__", ()))
        for name in dir(module):
            value = getattr(module, name)
            if name.startswith("_") or name in peek_docs.NOT_API or inspect.ismodule(value):
                continue
            here = f"{module_name}.{name}"
            if inspect.isclass(value) or inspect.isroutine(value):
                if not getattr(value, "__module__", "").startswith("peek_plugin_base"):
                    continue
                expected[here] = {here, f"{value.__module__}.{value.__qualname__}"}
            elif name in own or name in listed:
                expected[here] = {here, peek_docs.canonical_name(value, name) or here}
    return expected


def test_reference_lists_every_public_name(tmp_path: Path) -> None:
    """Building the reference warns about nothing and indexes each public name (or its home)."""
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
    )
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"),
                 "dummy", status=None, warning=warnings, freshenv=True)
    app.build()
    assert warnings.getvalue() == "", warnings.getvalue()
    documented = set(app.env.domains["py"].objects)
    missing = sorted(name for name, homes in _expected().items() if not homes & documented)
    assert len(_expected()) > 100, "the walk found too few names to be the whole contract"
    assert missing == [], f"public names missing from the API reference: {missing}"
