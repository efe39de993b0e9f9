"""The declarative base of the tutorial's tables: everything lands in schema pl_tutorial."""

import importlib
import pkgutil
from pathlib import Path

from sqlalchemy.orm import DeclarativeBase as SqlAlchemyDeclarativeBase
from sqlalchemy.schema import MetaData

metadata = MetaData(schema="pl_tutorial")


class DeclarativeBase(SqlAlchemyDeclarativeBase):
    """Every tutorial table class inherits this, so they share the plugin's metadata."""

    metadata = metadata


def loadStorageTuples() -> None:
    """Import every table module of this package so the metadata knows all tables.

    Called from each entry hook's load(), and by the migrations' env.py (autogenerate
    compares every table).
    """
    package = __name__.rsplit(".", 1)[0]
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.name.startswith("Declarative"):
            importlib.import_module(f"{package}.{module.name}")
