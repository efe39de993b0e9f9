"""``peek_storage_dev``: a plugin author's Alembic commands for one plugin, no ini files.

::

    peek_storage_dev PLUGIN revision --autogenerate -m "Added StringInt Table"
    peek_storage_dev PLUGIN upgrade [REVISION]        (default: head)
    peek_storage_dev PLUGIN downgrade REVISION        (e.g. -1, base, 0001_initial)
    peek_storage_dev PLUGIN current
    peek_storage_dev PLUGIN history

PLUGIN is an installed plugin package (its ``plugin_package.json`` names the migrations
directory, ``storage.alembicDir``) or ``peek_platform`` for the platform's own schema.
``--url`` (or ``PEEK_STORAGE_DEV_URL``) picks the database; ``postgresql://`` URLs use
psycopg 3. Without one, ``revision`` compares against a throw-away SQLite database
upgraded to head first, and the other commands refuse to guess.

Revision ids are readable and linear: ``0001_<message>``, ``0002_<message>``, ... each
revising the previous head; the file is named after the id.
"""

import argparse
import importlib
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from peek_platform.errors import PeekError
from peek_platform.storage.schema_names import PLATFORM_SCHEMA, plugin_schema_name
from peek_plugin_base.PluginPackageFileConfig import PluginPackageFileConfig
from peek_plugin_base.storage.engine_factory import make_engine
from peek_plugin_base.storage.schema_migration import CONNECTION_KEY, alembic_config
from peek_plugin_base.storage.StorageErrors import StorageError

URL_ENV_VAR = "PEEK_STORAGE_DEV_URL"
PLATFORM_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Alembic's version table column is VARCHAR(32).
MAX_REVISION_ID_LENGTH = 32

#: Written into a migrations directory that has no template yet.
SCRIPT_TEMPLATE = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''


class DevCommandError(PeekError):
    """The developer command cannot do what was asked; the message says why."""


def resolve_migrations(plugin: str) -> tuple[Path, str]:
    """The migrations directory and schema of a plugin package (or the platform)."""
    if plugin == "peek_platform":
        return PLATFORM_MIGRATIONS_DIR, PLATFORM_SCHEMA
    try:
        package = importlib.import_module(plugin)
    except ImportError as e:
        raise DevCommandError(f"cannot import plugin {plugin}: {e}") from e
    root = Path(package.__file__ or "").parent
    storage = PluginPackageFileConfig(str(root)).config.get("storage")
    alembic_dir = storage.get("alembicDir") if isinstance(storage, dict) else None
    if not isinstance(alembic_dir, str):
        raise DevCommandError(
            f'{root / "plugin_package.json"} has no "storage": {{"alembicDir": ...}}'
        )
    return root / alembic_dir, plugin_schema_name(plugin)


def next_revision_id(script: ScriptDirectory, message: str) -> str:
    """``NNNN_<slug of message>``, one above the highest numbered revision."""
    heads = script.get_heads()
    if len(heads) > 1:
        raise DevCommandError(
            f"the migrations have several heads ({', '.join(heads)}); history must be linear"
        )
    numbers = [0]
    for revision in script.walk_revisions():
        match = re.match(r"^(\d+)", revision.revision)
        if match:
            numbers.append(int(match.group(1)))
    prefix = f"{max(numbers) + 1:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return f"{prefix}_{slug}"[:MAX_REVISION_ID_LENGTH].rstrip("_") if slug else prefix


def _prepare_directory(alembic_dir: Path) -> None:
    if not (alembic_dir / "env.py").is_file():
        raise DevCommandError(
            f"{alembic_dir} has no env.py; it holds three lines: import the plugin's "
            "metadata and call AlembicEnvBase(metadata).run()"
        )
    (alembic_dir / "versions").mkdir(exist_ok=True)
    template = alembic_dir / "script.py.mako"
    if not template.exists():
        template.write_text(SCRIPT_TEMPLATE, encoding="utf-8")
        print(f"Created {template}")


@contextmanager
def _connected(config: Config, url: str, schema: str) -> Iterator[None]:
    engine = make_engine(url, [schema])
    try:
        with engine.connect() as connection, connection.begin():
            config.attributes[CONNECTION_KEY] = connection
            yield
    finally:
        config.attributes.pop(CONNECTION_KEY, None)
        engine.dispose()


def _tidy(path: Path) -> None:
    """Format a generated revision with ruff when it is installed (the repo lints them)."""
    for args in (["format", "-q"], ["check", "-q", "--fix", "--exit-zero"]):
        subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(path)],
            check=False,
            capture_output=True,
        )


def make_revision(
    config: Config, url: Optional[str], schema: str, message: str, autogenerate: bool
) -> Path:
    """Write the next revision; autogenerate compares the metadata with the database."""
    script = ScriptDirectory.from_config(config)
    rev_id = next_revision_id(script, message)
    with tempfile.TemporaryDirectory(prefix="peek-storage-dev-") as scratch:
        if url is None:
            url = f"sqlite:///{Path(scratch) / 'scratch.sqlite'}"
            if autogenerate:
                with _connected(config, url, schema):
                    command.upgrade(config, "head")
        with _connected(config, url, schema):
            written = command.revision(
                config, message=message, autogenerate=autogenerate, rev_id=rev_id
            )
    scripts = written if isinstance(written, list) else [written]
    path = Path(scripts[0].path) if scripts and scripts[0] is not None else None
    if path is None:
        raise DevCommandError("alembic wrote no revision")
    _tidy(path)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peek_storage_dev",
        description="Alembic commands for one plugin's schema (see the module docstring).",
    )
    parser.add_argument("plugin", help="plugin package name, or peek_platform")
    parser.add_argument(
        "--url", default=os.environ.get(URL_ENV_VAR), help=f"database URL (or ${URL_ENV_VAR})"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="write the next revision")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--autogenerate", action="store_true")
    upgrade = commands.add_parser("upgrade", help="upgrade the schema")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = commands.add_parser("downgrade", help="downgrade the schema")
    downgrade.add_argument("revision")
    commands.add_parser("current", help="show the schema's revision")
    commands.add_parser("history", help="list the revisions")
    return parser


def run(argv: Optional[list[str]] = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        alembic_dir, schema = resolve_migrations(args.plugin)
        _prepare_directory(alembic_dir)
        config = alembic_config(alembic_dir, schema)
        if args.command == "revision":
            path = make_revision(config, args.url, schema, args.message, args.autogenerate)
            print(f"Wrote {path}")
            return 0
        if args.command == "history":
            command.history(config)
            return 0
        if not args.url:
            raise DevCommandError(f"give the database with --url or ${URL_ENV_VAR}")
        with _connected(config, args.url, schema):
            if args.command == "upgrade":
                command.upgrade(config, args.revision)
            elif args.command == "downgrade":
                command.downgrade(config, args.revision)
            else:
                command.current(config, verbose=False)
        return 0
    except (PeekError, StorageError, CommandError) as e:
        print(f"peek_storage_dev: {e}", file=sys.stderr)
        return 1


def main() -> None:
    """Console entry point of ``peek_storage_dev``."""
    sys.exit(run())
