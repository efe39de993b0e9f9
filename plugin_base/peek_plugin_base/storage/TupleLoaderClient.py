"""TupleLoaderClient: load, save and delete rows through an OrmCrudHandler from Python."""

from typing import Any, Optional

from twisted.internet.defer import Deferred

from peek_plugin_base.PeekVortexUtil import peekServerName
from peek_vortex.routing import PayloadRouter, default_router
from peek_vortex.wire import Payload, PayloadEnvelope


class TupleLoaderClient:
    """The Python counterpart of the admin page's TupleLoader, for tools, services and tests.

    Sends the requests described in
    :class:`~peek_plugin_base.storage.OrmCrudHandler.OrmCrudHandler` to ``filtKey`` at
    ``destVortexName`` and fires each Deferred with the reply's tuples, or fails it with
    :class:`~peek_vortex.errors.RemoteError` (``code`` is the handler's
    error class name, e.g. ``CrudRowNotFoundError``) or a reply timeout. Extra keyword
    arguments of each call are added to the request's filt (for a handler whose
    ``createDeclarative`` selects by them)::

        loader = TupleLoaderClient(stringIntFiltKey, router=router)
        rows = await loader.load()
        rows[0].int1 += 1
        saved = await loader.save(rows)
    """

    def __init__(
        self,
        filtKey: dict[str, Any],
        destVortexName: str = peekServerName,
        router: Optional[PayloadRouter] = None,
        timeoutSeconds: float = 30.0,
    ) -> None:
        self.filtKey = dict(filtKey)
        self.destVortexName = destVortexName
        self.timeoutSeconds = timeoutSeconds
        self._router = router

    @property
    def router(self) -> PayloadRouter:
        return self._router or default_router()

    def load(self, id: Any = None, **filt: Any) -> "Deferred[list[Any]]":  # noqa: A002
        """The row with primary key ``id`` (as a one-row list), or the handler's default load."""
        if id is not None:
            filt["id"] = id
        return self._request(filt, [])

    def save(self, tuples: list[Any], **filt: Any) -> "Deferred[list[Any]]":
        """Insert the rows without a primary key, update the others; fires with them as stored."""
        if not tuples:
            raise ValueError("save needs at least one row (an empty save would be a load)")
        return self._request(filt, list(tuples))

    def delete(
        self, tuples: Optional[list[Any]] = None, id: Any = None, **filt: Any  # noqa: A002
    ) -> "Deferred[list[Any]]":
        """Delete ``tuples`` (by primary key) or the row ``id``; fires with the deleted rows."""
        filt["delete"] = True
        if id is not None:
            filt["id"] = id
        return self._request(filt, list(tuples or []))

    def _request(self, filt: dict[str, Any], tuples: list[Any]) -> "Deferred[list[Any]]":
        payload = Payload(filt={**filt, **self.filtKey}, tuples=tuples)
        d: Deferred[PayloadEnvelope] = self.router.request(
            payload, self.destVortexName, timeout=self.timeoutSeconds
        )
        return d.addCallback(lambda envelope: envelope.decodePayload().tuples)

    def __repr__(self) -> str:
        return f"TupleLoaderClient({self.filtKey!r} -> {self.destVortexName!r})"
