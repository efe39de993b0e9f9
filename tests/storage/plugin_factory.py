"""Writes small storage plugins (package, plugin_package.json, tables, migrations) to disk."""

import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class Revision:
    """One migration script: its id, its parent, and the bodies of upgrade/downgrade."""

    id: str
    down: Optional[str]
    upgrade: str
    downgrade: str = "pass"


#: Table creation for the "Item" table used by most tests (schema filled in).
CREATE_ITEM = """
op.create_table(
    "Item",
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(50)),
    schema=SCHEMA,
)
"""

ITEM_TABLE = """
class Item(DeclarativeBase):
    __tablename__ = "Item"
    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(50))
"""


class PluginFactory:
    """Creates plugin packages in ``root`` (which the fixture puts on sys.path)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names: set[str] = set()

    def write(
        self,
        name: str,
        revisions: Optional[list[Revision]],
        tables: str = ITEM_TABLE,
        schema: Optional[str] = None,
        declare_storage: bool = True,
        storage_hook: bool = True,
    ) -> Path:
        """Write (or rewrite) plugin ``name``; returns its alembic directory.

        ``revisions`` replaces the migration scripts; None keeps the ones on disk.
        """
        self.names.add(name)
        schema = schema or "pl_" + name.removeprefix("peek_plugin_")
        package = self.root / name
        private = package / "_private"
        alembic_dir = private / "alembic"
        (alembic_dir / "versions").mkdir(parents=True, exist_ok=True)
        (private / "storage").mkdir(parents=True, exist_ok=True)
        cfg: dict = {
            "plugin": {"title": name, "packageName": name, "version": "1.0"},
            "requiresServices": ["server", "storage"],
        }
        if declare_storage:
            cfg["storage"] = {"alembicDir": "_private/alembic"}
        (package / "plugin_package.json").write_text(json.dumps(cfg))
        bases = "PluginServerEntryHookABC" + (
            ", PluginServerStorageEntryHookABC" if storage_hook else ""
        )
        (package / "__init__.py").write_text(
            textwrap.dedent(f"""\
            from peek_plugin_base.server.PluginServerEntryHookABC import (
                PluginServerEntryHookABC,
            )
            from peek_plugin_base.server.PluginServerStorageEntryHookABC import (
                PluginServerStorageEntryHookABC,
            )


            class ServerEntryHook({bases}):
                def load(self):
                    pass

                def start(self):
                    pass

                def stop(self):
                    pass

                def unload(self):
                    pass

                @property
                def dbMetadata(self):
                    from {name}._private.storage.tables import metadata
                    return metadata


            def peekServerEntryHook():
                return ServerEntryHook
            """)
        )
        (private / "__init__.py").write_text("")
        (private / "storage" / "__init__.py").write_text("")
        (private / "storage" / "tables.py").write_text(
            "from sqlalchemy import Column, ForeignKey, Integer, MetaData, String\n"
            "from sqlalchemy.orm import declarative_base\n\n"
            f"metadata = MetaData(schema={schema!r})\n"
            "DeclarativeBase = declarative_base(metadata=metadata)\n" + tables
        )
        (alembic_dir / "env.py").write_text(
            "from peek_plugin_base.storage.AlembicEnvBase import AlembicEnvBase\n"
            f"from {name}._private.storage.tables import metadata\n"
            "AlembicEnvBase(metadata).run()\n"
        )
        if revisions is None:
            self.forget_modules()
            return alembic_dir
        for old in (alembic_dir / "versions").glob("*.py"):
            old.unlink()
        for revision in revisions:
            body = textwrap.indent(textwrap.dedent(revision.upgrade).strip() or "pass", "    ")
            down = textwrap.indent(textwrap.dedent(revision.downgrade).strip(), "    ")
            (alembic_dir / "versions" / f"{revision.id}.py").write_text(
                "import sqlalchemy as sa\nfrom alembic import op\n\n"
                f"SCHEMA = {schema!r}\n"
                f"revision = {revision.id!r}\ndown_revision = {revision.down!r}\n"
                "branch_labels = None\ndepends_on = None\n\n\n"
                f"def upgrade():\n{body}\n\n\ndef downgrade():\n{down}\n"
            )
        self.forget_modules()
        return alembic_dir

    def metadata(self, name: str):  # noqa: ANN201 - a MetaData from the written module
        """Import the plugin's table module and return its MetaData."""
        import importlib

        return importlib.import_module(f"{name}._private.storage.tables").metadata

    def module(self, name: str):  # noqa: ANN201
        """The plugin's table module (for its mapped classes)."""
        import importlib

        return importlib.import_module(f"{name}._private.storage.tables")

    def forget_modules(self) -> None:
        """Drop the written packages from sys.modules so the next import reads the disk."""
        for module in list(sys.modules):
            if module.split(".")[0] in self.names:
                del sys.modules[module]
