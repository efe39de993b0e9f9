"""Sphinx extension: the API reference and the config table, generated from the code."""

import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

from sphinx.application import Sphinx

#: Where generated pages go (gitignored; rewritten on every build).
GENERATED = "_generated"


def public_modules(package: str = "peek_plugin_base") -> list[str]:
    """Every importable module of ``package`` whose dotted path has no private part."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


#: Module-level loggers are plumbing, not API.
NOT_API = frozenset({"logger"})


def own_names(module: ModuleType) -> list[str]:
    """Public names a module's own source defines at top level (defs, classes, assignments)."""
    source = inspect.getsource(module)
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found = [node.name]
        elif isinstance(node, ast.Assign):
            found = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found = [node.target.id]
        else:
            continue
        names += [n for n in found if not n.startswith("_") and n not in NOT_API
                  and n not in names]
    return names


def reexported_names(module: ModuleType) -> list[str]:
    """Names in a facade's ``__all__`` that are defined elsewhere (documented there)."""
    own = set(own_names(module))
    return [n for n in getattr(module, "__all__", ()) if n not in own]


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` only when it differs, so Sphinx does not rebuild unchanged pages."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _is_private(dotted: str) -> bool:
    """A dotted path with a part starting with ``_`` (not documented on a page of its own)."""
    return any(part.startswith("_") for part in dotted.split("."))


def canonical_name(value: Any, name: str) -> Optional[str]:
    """Where a re-exported object is documented: the public module defining it, and its name.

    None when it is defined in a private module: the facade re-exporting it documents it.
    """
    if inspect.ismodule(value):
        home = value.__name__
    elif inspect.isclass(value) or inspect.isroutine(value):
        home = f"{value.__module__}.{value.__qualname__}"
    else:
        home = next(
            (f"{m}.{name}" for m in public_modules()
             if name in own_names(importlib.import_module(m))
             and getattr(importlib.import_module(m), name) is value),
            None,
        )
    return None if home is None or _is_private(home) else home


def _is_code(value: Any) -> bool:
    """Classes and functions (documented through automodule), as opposed to data."""
    return inspect.isclass(value) or inspect.isroutine(value)


def _module_page(name: str) -> str:
    """The reStructuredText page of one module: its own names, then what it re-exports."""
    module = importlib.import_module(name)
    title = f"``{name}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {name}"]
    again = {item: canonical_name(getattr(module, item), item)
             for item in reexported_names(module)}
    # Own names, and re-exports whose definition lives in a private module, are documented
    # here. automodule skips module-level data that has no ``#:`` comment even with
    # undoc-members, so autodata documents each value whether or not it is commented.
    here = own_names(module) + [item for item, home in again.items() if home is None]
    code = [n for n in here if _is_code(getattr(module, n))]
    if code:
        lines += [f"   :members: {', '.join(code)}", "   :undoc-members:",
                  "   :show-inheritance:"]
    for item in here:
        if not _is_code(getattr(module, item)):
            lines += ["", f".. autodata:: {name}.{item}"]
    elsewhere = {item: home for item, home in again.items() if home is not None}
    if elsewhere:
        lines += ["", "Also importable from here (documented where they are defined):", ""]
        for item, home in elsewhere.items():
            role = "mod" if inspect.ismodule(getattr(module, item)) else "obj"
            lines.append(f"- :py:{role}:`{item} <{home}>`")
    return "\n".join(lines) + "\n"


def write_api_pages(srcdir: Path) -> None:
    """One page per public ``peek_plugin_base`` module and an index page listing them all."""
    folder = srcdir / GENERATED / "api"
    folder.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    wanted = {f"{name}.rst" for name in modules} | {"index.rst"}
    for stale in folder.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for name in modules:
        _write_if_changed(folder / f"{name}.rst", _module_page(name))
    toc = "\n".join(f"   {name}" for name in modules)
    _write_if_changed(
        folder / "index.rst",
        "API reference (``peek_plugin_base``)\n====================================\n\n"
        "Generated from the docstrings of every public module of the plugin contract.\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{toc}\n",
    )


def _cell(value: Any) -> str:
    """A default as JSON, the way it appears in ``config.json``."""
    return "``" + json.dumps(value).replace("{home}", "<home>") + "``"


def write_config_table(srcdir: Path) -> None:
    """The config key table of the admin guide, from ``peek_platform.config.SETTINGS``."""
    from peek_platform.config import SETTINGS

    rows = []
    for setting in SETTINGS:
        services = "all" if len(setting.services) == 4 else ", ".join(setting.services)
        doc = setting.doc.replace("|", "\\|").replace("*", "\\*")
        rows.append(
            f"   * - ``{setting.key}``\n     - {services}\n"
            f"     - {_cell(setting.default)}\n     - {doc}\n"
        )
    folder = srcdir / GENERATED
    folder.mkdir(parents=True, exist_ok=True)
    _write_if_changed(
        folder / "config-table.rst.inc",
        ".. list-table::\n   :header-rows: 1\n   :widths: 25 12 18 45\n\n"
        "   * - key\n     - services\n     - default\n     - meaning\n" + "".join(rows),
    )


def _defined_in_source(obj: Any) -> tuple[set[str], dict[tuple[str, str], list[str]]]:
    """The names a class's own module assigns or defines (``Class.name``) and its attribute docs."""
    from sphinx.pycode import ModuleAnalyzer

    analyzer = ModuleAnalyzer.for_module(obj.__module__)
    analyzer.analyze()
    return set(analyzer.tagorder), analyzer.attr_docs


def _skip_foreign_member(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> Any:
    """Skip class members that our source does not define (Celery's and SQLAlchemy's).

    Bases from other libraries put their attributes (with docstrings written for their own
    Sphinx setup) into our subclasses; the reference documents what our classes declare.
    """
    owner = getattr(options, "_peek_owner", None)
    if what != "class" or owner is None:
        return None
    tags, _ = _defined_in_source(owner)
    if f"{owner.__qualname__}.{name}" not in tags:
        return True
    return None


def _note_owner(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Remember the class being documented, and drop attribute docs not written by us."""
    if what == "class":
        options._peek_owner = obj
    elif what == "attribute":
        rest = name.rsplit(".", 1)[1]
        owner = getattr(options, "_peek_owner", None)
        if owner is not None and name.startswith(f"{owner.__module__}.{owner.__qualname__}."):
            _, attr_docs = _defined_in_source(owner)
            if (owner.__qualname__, rest) not in attr_docs:
                lines[:] = []


#: Markdown files outside docs/ that are pages of the site (repository path: page).
INCLUDED_PAGES = {
    "plugins/peek-plugin-tutorial/README.md": "tutorial.md",
    "plugins/peek-plugin-tutorial/docs/AddWorkerService.md": "tutorial-worker.md",
}
_MD_LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)\s]*)?\)")


def _relink_included(
    app: Sphinx, relative_path: Path, parent_docname: str, content: list[str]
) -> None:
    """Point links between included markdown files at the pages that include them."""
    repo = Path(app.srcdir).parent
    source = (Path(app.srcdir) / relative_path).resolve()

    def relink(match: re.Match[str]) -> str:
        target = (source.parent / match.group(1)).resolve()
        try:
            page = INCLUDED_PAGES.get(target.relative_to(repo).as_posix())
        except ValueError:
            page = None
        return f"]({page}{match.group(2) or ''})" if page else match.group(0)

    content[0] = _MD_LINK.sub(relink, content[0])


def _generate(app: Sphinx) -> None:
    """Regenerate the pages derived from code before Sphinx reads the sources."""
    srcdir = Path(app.srcdir)
    write_api_pages(srcdir)
    write_config_table(srcdir)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the generator with Sphinx."""
    app.connect("builder-inited", _generate)
    app.connect("autodoc-process-docstring", _note_owner)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    app.connect("include-read", _relink_included)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
