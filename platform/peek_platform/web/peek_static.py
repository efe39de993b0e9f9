"""The platform's own browser files (the bus client ``vortex.js`` and its modules) at ``/peek/``."""

from pathlib import Path

from twisted.web.resource import Resource

import peek_vortex
from peek_platform.web.plugin_site import StaticFolder

#: The folder of the browser bus client's ES modules (packaged with the bus, peek_vortex).
JS_DIR = Path(peek_vortex.__file__).resolve().parent / "js"
#: Where every site that offers the bus to browsers serves :data:`JS_DIR`.
PEEK_STATIC_PATH = b"peek"


def mount_peek_static(root: Resource) -> StaticFolder:
    """Serve the browser bus client at ``/peek/`` on ``root`` (read-only, no listings)."""
    folder = StaticFolder(str(JS_DIR))
    root.putChild(PEEK_STATIC_PATH, folder)
    return folder
