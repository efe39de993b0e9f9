"""Test harness: a throw-away database per test (SQLite or PostgreSQL) and a memory bus.

The tests are trial TestCases because the handler does its database work in the
reactor's thread pool; trial runs the reactor. Tests live in a mixin that two small
classes combine with :class:`BusTestCase`, one per ``database``.
"""

import os
import tempfile
import uuid
from collections.abc import Callable
from typing import Any
from unittest import SkipTest

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url
from twisted.python import threadable
from twisted.trial.unittest import TestCase

from peek_plugin_base.testing import MemoryNode, MemoryVortex
from tests.storage.conftest import _admin_conninfo, postgres_server_url


def new_database(kind: str, cleanups: Callable[..., None]) -> str:
    """The URL of a new, empty database of ``kind``; ``cleanups`` gets how to drop it."""
    if kind == "sqlite":
        directory = tempfile.mkdtemp(prefix="peek-crud-")
        cleanups(_remove_tree, directory)
        return f"sqlite:///{directory}/db/peek.sqlite"
    name = f"peek_crud_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if os.environ.get("CI"):
            raise
        raise SkipTest(f"PostgreSQL not reachable at {postgres_server_url()}: {e}") from None
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    cleanups(drop)
    return make_url(postgres_server_url()).set(database=name).render_as_string(
        hide_password=False
    )


def _remove_tree(directory: str) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


class BusTestCase(TestCase):
    """A memory bus with a ``peek-server`` node and an admin-side ``peek-client`` node.

    Every message the server node sends is checked to be sent from the reactor thread.
    """

    #: "sqlite" or "postgres"; each concrete test class sets it.
    database = "sqlite"

    def setUp(self) -> None:
        self.db_url = new_database(self.database, self.addCleanup)
        self.bus = MemoryVortex()
        self.server = self.bus.node("peek-server")
        self.admin = self.bus.node("peek-client")
        self.bus.link(self.server, self.admin)
        self.sent_off_reactor: list[bytes] = []
        original = self.server.router._send

        def checked_send(destination: Any, data: bytes) -> None:
            if not threadable.isInIOThread():
                self.sent_off_reactor.append(data)
            original(destination, data)

        self.server.router.set_send(checked_send)
        self.addCleanup(self._no_sends_off_reactor)

    def _no_sends_off_reactor(self) -> None:
        assert not self.sent_off_reactor, "the server sent messages from a non-reactor thread"

    def device(self, name: str = "peek-mobile") -> MemoryNode:
        """Another node linked to the server (a device or service observing it)."""
        node = self.bus.node(name)
        self.bus.link(self.server, node)
        return node

