"""Listing a package's sibling modules, so an ``__init__`` can import them all (tuples, tables)."""

import os
from collections.abc import Iterator


def filterModules(name: str, file: str) -> Iterator[str]:
    """Yield the dotted names of the modules and packages beside ``file``, sorted.

    Call it from a package's ``__init__.py`` as ``filterModules(__name__, __file__)`` (or
    ``__package__`` from a module) to import every module of the package, for example to
    register all of a plugin's tuple types::

        for mod in filterModules(__name__, __file__):
            importlib.import_module(mod)

    ``__init__``, names starting with ``_`` and test modules (``test_*``, ``*_test``,
    ``*Test``) are skipped; source and compiled-only modules are both found, once each.
    """
    directory = os.path.dirname(os.path.abspath(file))
    found: set[str] = set()
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, "__init__.py")):
                continue
            module = entry
        else:
            module, ext = os.path.splitext(entry)
            if ext not in (".py", ".pyc"):
                continue
        if not module.isidentifier() or module.startswith("_"):
            continue
        if module.startswith("test_") or module.endswith(("_test", "Test")):
            continue
        found.add(module)
    for module in sorted(found):
        yield f"{name}.{module}"
