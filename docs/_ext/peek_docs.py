"""Sphinx extension: the API references (the plugin contract, the bus) and the config
table, generated from the code."""

import ast
import functools
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any, ForwardRef, Optional

from sphinx.application import Sphinx

#: Where generated pages go (gitignored; rewritten on every build).
GENERATED = "_generated"

#: The plugin contract, and the bus it re-exports part of.
CONTRACT = "peek_plugin_base"
BUS = "peek_vortex"
#: The plugins' bus façade: a bus object it exports is documented on its page.
FACADE = "peek_plugin_base.vortex"

#: Each reference: (package, folder under GENERATED, index title, index text).
REFERENCES = (
    (CONTRACT, "api", "API reference (``peek_plugin_base``)",
     "Generated from the docstrings of every public module of the plugin contract: what a "
     "plugin imports. The bus's plugin-facing names are documented on "
     f":mod:`{FACADE}`, the façade over the bus package."),
    (BUS, "bus", "The bus reference (``peek_vortex``)",
     "For platform developers: the public packages of the bus (wire, tuples, routing, "
     "handlers, transport, testing, errors), generated from their docstrings. Plugins never "
     f"import ``{BUS}``: the names they use are re-exported by :mod:`{FACADE}` and "
     "documented there (linked from here). Modules whose names start with ``_`` are "
     "private and not listed; each package re-exports what of them is public."),
)


@functools.cache
def public_modules(package: str = CONTRACT) -> tuple[str, ...]:
    """Every importable module of ``package`` whose dotted path has no private part."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return tuple(sorted(names))


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


@functools.cache
def _own_names_of(module_name: str) -> tuple[str, ...]:
    """``own_names`` of a module, by name (read once per build)."""
    return tuple(own_names(importlib.import_module(module_name)))


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


def _exporters(value: Any, name: str) -> list[str]:
    """Public modules that list ``value`` as ``name`` in ``__all__``, in the order a home is
    chosen: the façade, the other contract modules, then the bus's (the package nearest the
    private module defining it first)."""
    defined_in = getattr(value, "__module__", "") or ""
    bus = sorted(public_modules(BUS), key=lambda m: (not defined_in.startswith(m + "."),
                                                     -len(m), m))
    contract = [FACADE, *(m for m in public_modules(CONTRACT) if m != FACADE)]
    found = []
    for module_name in contract + bus:
        module = importlib.import_module(module_name)
        if name in getattr(module, "__all__", ()) and getattr(module, name, None) is value:
            found.append(module_name)
    return found


def canonical_name(value: Any, name: str) -> Optional[str]:
    """Where an object is documented: ``module.name`` of its one home, or None when no
    public module is its home (then each page listing it documents it).

    A class or function defined in a public module lives there. One defined in a private
    module (``peek_vortex.tuples._tuples``) lives where a plugin imports it, when the
    contract re-exports it (the façade first), else in the public bus package that
    re-exports it. Data lives in the public module that assigns it, else in the first
    contract module re-exporting it.
    """
    if inspect.ismodule(value):
        return value.__name__
    if inspect.isclass(value) or inspect.isroutine(value):
        home = f"{value.__module__}.{value.__qualname__}"
        if not _is_private(home):
            return home
        exporters = _exporters(value, name)
        return f"{exporters[0]}.{name}" if exporters else None
    for module_name in public_modules(CONTRACT) + public_modules(BUS):
        module = importlib.import_module(module_name)
        if name in _own_names_of(module_name) and getattr(module, name) is value:
            return f"{module_name}.{name}"
    contract = [m for m in _exporters(value, name) if m.startswith(CONTRACT)]
    return f"{contract[0]}.{name}" if contract else None


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
    # Own names, and re-exports whose home is this page (or no public module), are
    # documented here; the façade documents every name it exports, so a plugin developer
    # reads the whole bus API on one page (the errors are also on their own module's
    # page). automodule skips module-level data that has no ``#:`` comment even with
    # undoc-members, so autodata documents each value whether or not it is commented.
    here = own_names(module) + [item for item, home in again.items()
                                if name == FACADE or home in (None, f"{name}.{item}")]
    code = [n for n in here if _is_code(getattr(module, n))]
    if code:
        lines += [f"   :members: {', '.join(code)}", "   :undoc-members:",
                  "   :show-inheritance:"]
    for item in here:
        if not _is_code(getattr(module, item)):
            lines += ["", f".. autodata:: {name}.{item}"]
    elsewhere = {item: home for item, home in again.items() if item not in here}
    if elsewhere:
        lines += ["", "Also importable from here (documented where they are defined):", ""]
        for item, home in elsewhere.items():
            role = "mod" if inspect.ismodule(getattr(module, item)) else "obj"
            lines.append(f"- :py:{role}:`{item} <{home}>`")
    return "\n".join(lines) + "\n"


def write_api_pages(srcdir: Path) -> None:
    """For the contract and the bus: one page per public module and an index listing them."""
    for package, folder_name, title, text in REFERENCES:
        folder = srcdir / GENERATED / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        modules = public_modules(package)
        wanted = {f"{name}.rst" for name in modules} | {"index.rst"}
        for stale in folder.glob("*.rst"):
            if stale.name not in wanted:
                stale.unlink()
        for name in modules:
            _write_if_changed(folder / f"{name}.rst", _module_page(name))
        toc = "\n".join(f"   {name}" for name in modules)
        _write_if_changed(
            folder / "index.rst",
            f"{title}\n{'=' * len(title)}\n\n{text}\n\n"
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


def _public_bases(
    app: Sphinx, name: str, obj: Any, options: Any, bases: list[Any]
) -> None:
    """Name a base class defined in a private module by its documented home (a base
    ``peek_vortex.tuples._tuples.Tuple`` reads ``peek_plugin_base.vortex.Tuple``)."""
    for index, base in enumerate(bases):
        if not inspect.isclass(base):
            continue
        if _is_private(f"{base.__module__}.{base.__qualname__}"):
            home = canonical_name(base, base.__name__)
            if home is not None:
                bases[index] = ForwardRef(home)


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
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("include-read", _relink_included)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
