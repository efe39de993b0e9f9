"""OrmCrudHandler: load, create, update and delete the rows of one table over the bus."""

import logging
from collections.abc import Callable
from typing import Any, Optional

from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from peek_plugin_base.storage.StorageErrors import (
    CrudError,
    CrudRequestError,
    CrudRowNotFoundError,
    CrudTupleTypeError,
)
from peek_vortex.errors import error_reply
from peek_vortex.handlers import HandlerBase
from peek_vortex.routing import AcceptNames, PayloadRouter, run_in_thread
from peek_vortex.tuples import Tuple, tuple_info_for_class
from peek_vortex.wire import Payload, PayloadEnvelope

logger = logging.getLogger(__name__)

#: Operation names, as passed to the extension hooks' callers and logged.
OP_RETRIEVE = "retrieve"
OP_SAVE = "save"
OP_DELETE = "delete"


class OrmCrudHandlerExtension:
    """Hooks an :class:`OrmCrudHandler` calls around its work; override the ones you need.

    Every hook is called once per row as ``hook(tuple_, tuples, session, payloadFilt)``:
    the row, every row of that request, the session and the request's filt. Return
    values are ignored.

    In the database thread, inside the request's transaction (use ``session`` freely;
    raising aborts the request: the transaction rolls back and the requester gets the
    error):

    ``beforeCreate``
        a new row (no primary key yet), before it is added to the session;
    ``afterCreate``
        the same row after the insert was flushed (its primary key is set);
    ``beforeUpdate``
        the row as received, before it is merged over the stored one;
    ``beforeDelete``
        the stored row, before it is deleted;
    ``afterRetrieve``
        each row a load returns, before the reply is encoded.

    On the reactor thread, after the commit (``session`` is None, the rows are detached
    but keep their values). This is where to touch the bus, e.g. call
    ``TupleDataObservableHandler.notifyOfTupleUpdate``; an exception is logged and the
    requester still gets the success, since the data is committed:

    ``afterUpdateCommit``
        every saved row, created or updated (an admin "save" sends both);
    ``afterDeleteCommit``
        every deleted row, with the values it had.
    """

    def beforeCreate(self, tuple_: Any, tuples: list[Any], session: Session,
                     payloadFilt: dict[str, Any]) -> Any:
        """Called before a new row is added."""

    def afterCreate(self, tuple_: Any, tuples: list[Any], session: Session,
                    payloadFilt: dict[str, Any]) -> Any:
        """Called after a new row was inserted (flushed, not yet committed)."""

    def beforeUpdate(self, tuple_: Any, tuples: list[Any], session: Session,
                     payloadFilt: dict[str, Any]) -> Any:
        """Called with a received row before it is merged over the stored one."""

    def afterUpdateCommit(self, tuple_: Any, tuples: list[Any], session: None,
                          payloadFilt: dict[str, Any]) -> Any:
        """Called on the reactor thread for each saved row after the commit."""

    def beforeDelete(self, tuple_: Any, tuples: list[Any], session: Session,
                     payloadFilt: dict[str, Any]) -> Any:
        """Called with a stored row before it is deleted."""

    def afterDeleteCommit(self, tuple_: Any, tuples: list[Any], session: None,
                          payloadFilt: dict[str, Any]) -> Any:
        """Called on the reactor thread for each deleted row after the commit."""

    def afterRetrieve(self, tuple_: Any, tuples: list[Any], session: Session,
                      payloadFilt: dict[str, Any]) -> Any:
        """Called with each row a load returns, before the reply is encoded."""


class _Outcome:
    """What the database thread hands back to the reactor thread."""

    __slots__ = ("operation", "rows", "reply")

    def __init__(self, operation: str, rows: list[Any], reply: PayloadEnvelope) -> None:
        self.operation = operation
        self.rows = rows
        self.reply = reply


class OrmCrudHandler(HandlerBase):
    """Serves the rows of ``Declarative`` on the bus at ``filtKey``: load, save, delete.

    ``Declarative`` must be a mapped SQLAlchemy class registered as a bus tuple
    (``@addTupleType``) with a single-column primary key. Every request runs in the
    reactor's thread pool with a session from ``sessionCreator`` and one transaction
    (committed, or rolled back on any error); its reply is sent from the reactor thread.
    Only rows of ``Declarative`` (or its subclasses) are accepted: anything else is
    refused with ``CrudTupleTypeError`` and nothing is written.

    Override :meth:`createDeclarative` to choose what a load without an id returns
    (e.g. a subset of the table); register :class:`OrmCrudHandlerExtension` hooks with
    :meth:`addExtension`. The handler is open to every peer that can reach it on this
    router (on the server: authenticated services only; devices only reach the server
    through the client service's proxies); ``acceptOnlyFromVortex`` narrows that.

    ``shutdown()`` stops answering requests (requests already in a thread still get
    their reply); unloading the plugin that made the handler does that too.

    Wire format (frame layout in :class:`~peek_vortex.wire.VortexCodec`)
    ---------------------------------------------------------------------------------
    Request: header ``f`` is ``filtKey`` plus optional keys, a message id ``m``, and a
    body of zero or more ``Declarative`` tuples:

    * **load**: no tuples. With ``"id": <primary key>`` in ``f``: that row
      (``CrudRowNotFoundError`` if absent). Without: :meth:`createDeclarative` (by
      default every row ordered by primary key when ``retreiveAll``, else one new,
      unsaved row to fill in), which gets ``f`` to select a subset by extra keys.
    * **save**: one or more tuples. A row whose primary key is None is inserted; any
      other is merged over the stored row of that key (``CrudRowNotFoundError`` if there
      is none).
    * **delete**: ``"delete": true`` in ``f``, and either the rows to delete (by their
      primary keys) or ``"id": <primary key>`` in ``f``.

    Response: ``r`` is the request's ``m``, ``f`` the request's filt, and either a body of
    tuples (load: the rows; save: the rows as stored, ids assigned, in request order;
    delete: the deleted rows as they were) or ``e`` = ``[code, message]``: the
    exception's class name (``CrudTupleTypeError``, ``CrudRowNotFoundError``,
    ``CrudRequestError``, a decode error such as ``UnknownTupleTypeError``, or a
    database error such as ``IntegrityError``) and, for the first four, their text; any
    other error's message is ``"internal error, id <id>"`` and its detail (SQL, database
    address) is logged under that id. A request without ``m`` is processed and not
    answered.
    """

    def __init__(
        self,
        sessionCreator: Callable[[], Session],
        Declarative: type,
        filtKey: dict[str, Any],
        retreiveAll: bool = False,  # the seed's spelling
        router: Optional[PayloadRouter] = None,
        acceptOnlyFromVortex: AcceptNames = None,
    ) -> None:
        mapper = sqlalchemy_inspect(Declarative, raiseerr=False)
        if mapper is None or not hasattr(mapper, "primary_key"):
            raise TypeError(f"OrmCrudHandler needs a mapped declarative class, got {Declarative!r}")
        if not issubclass(Declarative, Tuple) or tuple_info_for_class(Declarative) is None:
            raise TypeError(
                f"{Declarative.__qualname__} must be a Tuple registered with @addTupleType "
                "to travel on the bus"
            )
        if len(mapper.primary_key) != 1:
            raise TypeError(
                f"OrmCrudHandler needs a single-column primary key; {Declarative.__qualname__} "
                f"has {len(mapper.primary_key)}"
            )
        self._sessionCreator = sessionCreator
        self._Declarative = Declarative
        self._retreiveAll = retreiveAll
        self._pkAttr = mapper.get_property_by_column(mapper.primary_key[0]).key
        self._schema: Optional[str] = getattr(getattr(Declarative, "__table__", None),
                                              "schema", None)
        self._extensions: list[OrmCrudHandlerExtension] = []
        self.filtKey = dict(filtKey)
        super().__init__(router)
        self._listen(self.filtKey, self._process, acceptOnlyFromVortex)
        self._own(f"CRUD handler {self.filtKey!r} of {Declarative.__qualname__}")

    # ---- plugin API

    def addExtension(self, Declarative: type, extension: OrmCrudHandlerExtension) -> None:
        """Call ``extension``'s hooks for rows of ``Declarative`` (this handler's class).

        Extensions run in the order they were added.
        """
        if not (isinstance(Declarative, type) and issubclass(self._Declarative, Declarative)):
            raise TypeError(
                f"this handler serves {self._Declarative.__qualname__}; an extension for "
                f"{getattr(Declarative, '__qualname__', Declarative)!r} would never be called"
            )
        self._extensions.append(extension)

    def createDeclarative(self, session: Session, payloadFilt: dict[str, Any]) -> Any:
        """What a load without an ``id`` returns: a row, a list of rows, or None.

        Runs in the database thread. By default: every row (ordered by primary key) when
        the handler was made with ``retreiveAll=True``, else one new unsaved row.
        """
        if self._retreiveAll:
            pk = getattr(self._Declarative, self._pkAttr)
            return list(session.scalars(select(self._Declarative).order_by(pk)))
        return self._Declarative()

    # ---- request handling (reactor thread)

    def _process(
        self,
        payloadEnvelope: PayloadEnvelope,
        vortexName: str,
        sendResponse: Callable[[Any], None],
        **_: Any,
    ) -> "Deferred[None]":
        return Deferred.fromCoroutine(self._handle(payloadEnvelope, vortexName, sendResponse))

    async def _handle(
        self,
        envelope: PayloadEnvelope,
        vortexName: str,
        sendResponse: Callable[[Any], None],
    ) -> None:
        try:
            outcome: _Outcome = await run_in_thread(self._work, envelope)
        except Exception:
            # A refusal (CrudError) says why; a database error becomes its class name and
            # an error id, its SQL and server address only in the log.
            error = error_reply(
                Failure(), logger, f"CRUD request {envelope.filt!r} from {vortexName!r} for "
                f"{self._Declarative.__qualname__}", passes=(CrudError,))
            if envelope.messageId is not None:
                sendResponse(PayloadEnvelope(filt=envelope.filt, error=error))
            return
        self._call_commit_hooks(outcome, envelope.filt)
        if envelope.messageId is not None:
            sendResponse(outcome.reply)

    def _call_commit_hooks(self, outcome: _Outcome, filt: dict[str, Any]) -> None:
        name = {OP_SAVE: "afterUpdateCommit", OP_DELETE: "afterDeleteCommit"}.get(
            outcome.operation)
        if name is None:
            return
        for extension in self._extensions:
            hook = getattr(extension, name)
            for row in outcome.rows:
                try:
                    hook(row, outcome.rows, None, filt)
                except Exception:
                    logger.exception(
                        "%s.%s failed after the commit (the request still succeeded)",
                        type(extension).__qualname__, name,
                    )

    # ---- database work (a pool thread)

    def _work(self, envelope: PayloadEnvelope) -> _Outcome:
        payload = envelope.decodePayload()
        filt = payload.filt
        rows = payload.tuples
        for row in rows:
            if not isinstance(row, self._Declarative):
                raise CrudTupleTypeError(
                    self._schema,
                    f"this handler ({self.filtKey.get('key')!r}) only takes "
                    f"{self._Declarative.tupleName()} rows, got "
                    f"{getattr(type(row), '__tupleType__', type(row).__qualname__)}",
                )
        session = self._sessionCreator()
        # The rows outlive the session (reply, commit hooks): keep their values loaded
        # after the commit instead of re-reading each one.
        expire_on_commit = session.expire_on_commit
        session.expire_on_commit = False
        try:
            if filt.get("delete"):
                operation, result = OP_DELETE, self._delete(session, filt, rows)
            elif rows:
                operation, result = OP_SAVE, self._save(session, filt, rows)
            else:
                operation, result = OP_RETRIEVE, self._retrieve(session, filt)
            session.commit()
            reply = Payload(filt=filt, tuples=result).makePayloadEnvelope()
            return _Outcome(operation, result, reply)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.expire_on_commit = expire_on_commit
            session.close()

    def _hooks(self, name: str, rows: list[Any], session: Session,
               filt: dict[str, Any]) -> None:
        for extension in self._extensions:
            hook = getattr(extension, name)
            for row in rows:
                hook(row, rows, session, filt)

    def _stored(self, session: Session, pk: Any) -> Any:
        row = session.get(self._Declarative, pk)
        if row is None:
            raise CrudRowNotFoundError(
                self._schema,
                f"there is no {self._Declarative.__qualname__} with "
                f"{self._pkAttr} = {pk!r}",
            )
        return row

    def _retrieve(self, session: Session, filt: dict[str, Any]) -> list[Any]:
        if filt.get("id") is not None:
            result: Any = [self._stored(session, filt["id"])]
        else:
            result = self.createDeclarative(session, filt)
        if result is None:
            result = []
        elif not isinstance(result, list):
            result = list(result) if isinstance(result, (tuple, set)) else [result]
        self._hooks("afterRetrieve", result, session, filt)
        return result

    def _save(self, session: Session, filt: dict[str, Any], rows: list[Any]) -> list[Any]:
        created = [row for row in rows if getattr(row, self._pkAttr) is None]
        self._hooks("beforeCreate", created, session, filt)
        saved: list[Any] = []
        for row in rows:
            pk = getattr(row, self._pkAttr)
            if pk is None:
                session.add(row)
                saved.append(row)
            else:
                self._stored(session, pk)
                self._hooks("beforeUpdate", [row], session, filt)
                saved.append(session.merge(row))
        session.flush()
        self._hooks("afterCreate", created, session, filt)
        return saved

    def _delete(self, session: Session, filt: dict[str, Any], rows: list[Any]) -> list[Any]:
        if rows:
            keys = [getattr(row, self._pkAttr) for row in rows]
            if any(pk is None for pk in keys):
                raise CrudRequestError(
                    self._schema, "a row to delete has no primary key (it was never saved)"
                )
        elif filt.get("id") is not None:
            keys = [filt["id"]]
        else:
            raise CrudRequestError(
                self._schema, "a delete needs the rows to delete or an 'id' in its filt"
            )
        doomed = [self._stored(session, pk) for pk in keys]
        self._hooks("beforeDelete", doomed, session, filt)
        for row in doomed:
            session.delete(row)
        session.flush()
        return doomed

    def __repr__(self) -> str:
        return f"OrmCrudHandler({self._Declarative.__qualname__}, {self.filtKey!r})"
