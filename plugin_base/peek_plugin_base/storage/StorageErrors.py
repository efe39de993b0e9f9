"""Errors a plugin meets when migrating or using its storage.

::

    StorageError                       storage could not do something (names the schema)
    ├── SchemaNameError                the metadata's schema is not the plugin's schema
    ├── SchemaNewerThanCodeError       the database was migrated by newer code
    ├── MigrationFailedError           a migration script failed; everything was rolled back
    ├── SettingError                   a settings key is unknown or a value has the wrong type
    └── CrudError                      an OrmCrudHandler refused a request (sent as its reply)
        ├── CrudRequestError           the request is malformed (e.g. a delete naming no rows)
        ├── CrudTupleTypeError         a row is not of the handler's declarative class
        └── CrudRowNotFoundError       a row to load, update or delete does not exist
"""

from typing import ClassVar, Optional


class StorageError(Exception):
    """Storage could not do something; the message says which schema and why."""

    def __init__(self, schema: Optional[str], reason: str) -> None:
        where = f"schema {schema}: " if schema else ""
        super().__init__(f"{where}{reason}")
        self.schema = schema
        self.reason = reason


class SchemaNameError(StorageError):
    """A plugin's metadata names a schema other than the one the plugin owns."""


class SchemaNewerThanCodeError(StorageError):
    """The database holds a revision the installed migration scripts do not know."""

    def __init__(self, schema: Optional[str], databaseRevision: str, codeHeads: list[str]) -> None:
        heads = ", ".join(codeHeads) or "no revisions"
        super().__init__(
            schema,
            f"the database is at revision {databaseRevision!r}, which the installed code does "
            f"not know (its newest is {heads}); it was migrated by a newer version of this "
            "code. Install that version (or newer); the schema is left untouched",
        )
        self.databaseRevision = databaseRevision
        self.codeHeads = codeHeads


class MigrationFailedError(StorageError):
    """A migration script raised; the whole migration was rolled back."""


class SettingError(StorageError):
    """A settings key is not declared, or a value does not match the key's type."""


class CrudError(StorageError):
    """An OrmCrudHandler refused a request; the requester gets its ``code`` and message."""

    #: The error-reply code (see ``peek_vortex.errors.error_reply``).
    code: ClassVar[str] = "CrudError"


class CrudRequestError(CrudError):
    """A CRUD request is malformed, e.g. a delete that names no rows."""

    #: The error-reply code (see ``peek_vortex.errors.error_reply``).
    code: ClassVar[str] = "CrudRequestError"


class CrudTupleTypeError(CrudError):
    """A CRUD request carried a tuple that is not a row of the handler's declarative class."""

    #: The error-reply code (see ``peek_vortex.errors.error_reply``).
    code: ClassVar[str] = "CrudTupleTypeError"


class CrudRowNotFoundError(CrudError):
    """A row a CRUD request names by its primary key does not exist."""

    #: The error-reply code (see ``peek_vortex.errors.error_reply``).
    code: ClassVar[str] = "CrudRowNotFoundError"
