"""Sphinx configuration of the Peek platform documentation (``make docs``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "Peek platform"
author = "Peek platform contributors"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_parser",
    "peek_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "deploy"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Plugins' own classes mix in SQLAlchemy and Twisted; their docstrings are not ours to check.
autodoc_inherit_docstrings = False
nitpicky = False
html_theme = "alabaster"
html_title = "Peek platform"
