"""The admin backend: tuple-loader handlers the admin page (or a Python client) edits through."""

from collections.abc import Callable, Iterator

from sqlalchemy.orm import Session

from peek_plugin_base.storage import OrmCrudHandler
from peek_plugin_base.vortex import TupleDataObservableHandler
from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import (
    makeStringIntTableHandler,
)


def makeAdminBackendHandlers(
    tupleObservable: TupleDataObservableHandler, dbSessionCreator: Callable[[], Session]
) -> Iterator[OrmCrudHandler]:
    """Every admin handler; the caller keeps them and shuts them down in stop()."""
    yield makeStringIntTableHandler(tupleObservable, dbSessionCreator)
