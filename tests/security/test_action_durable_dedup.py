"""Finding 5: an action id re-sent after a kill -9 and restart of the server is not applied
twice; the record of outcomes is durable (platform schema) and expires after its window.

A real server runs the ``fx_actions`` fixture plugin, whose delegate appends each effect to
a file and fsyncs it before returning (a committed effect). On cf1af6c the record was in
the server's memory, so the re-sent action ran again after the restart.
"""

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_platform.storage.tables import ActionOutcome
from peek_plugin_base.storage.engine_factory import make_engine
from tests.security.action_fixture import PROCESSOR, EffectAction, EffectTuple
from tests.security.action_harness import ActionServer, connect_pusher
from tests.storage_crud.harness import new_database
from tests.vortex_transport.harness import wait_for


class _DurableDedup(TestCase):
    """One server home per test, killed and restarted on the same home and database."""

    timeout = 180
    #: "sqlite": the embedded default in the home; "postgres": a new PostgreSQL database.
    database = "sqlite"

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-sec-dedup-"))
        self.addCleanup(shutil.rmtree, root, True)
        db_url = new_database("postgres", self.addCleanup) if self.database == "postgres" else None
        self.server = ActionServer(root, db_url)
        self.addCleanup(self.server.stop)

    def expires_at(self, action_id: str) -> Optional[float]:
        """When the server's record of ``action_id`` expires, read from its database."""
        url = self.server.saved_config()["sqlalchemy"]["connectUrl"]
        table = ActionOutcome.__table__
        engine = make_engine(url, ["peek_platform"])
        try:
            with engine.connect() as connection:
                return connection.execute(select(table.c.expiresAt).where(
                    table.c.processorName == PROCESSOR, table.c.actionId == action_id,
                )).scalar_one_or_none()
        finally:
            engine.dispose()

    def test_resent_action_after_kill_and_restart_is_answered_not_applied(
        self,
    ) -> Deferred[None]:
        """Action X succeeds; the server is killed with SIGKILL right after the answer and
        restarted; X re-sent gets the same success and its effect is still applied once.
        With a 1 s window configured, a new action Z's record expires after 1 s and
        re-sending Z then runs it again."""

        async def run() -> None:
            server = self.server
            server.start()
            push = await connect_pusher(server, self.addCleanup)
            first = EffectAction()
            expected = [EffectTuple(actionId=first.uuid, count=1)]
            self.assertEqual(await push.pushAction(first), expected)
            server.kill()

            server.set("vortex", "actionDedupSeconds", 1)
            server.start()
            push = await connect_pusher(server, self.addCleanup)
            self.assertEqual(await push.pushAction(first), expected)
            self.assertEqual((server.attempts(first.uuid), server.effects(first.uuid)), (1, 1))

            short = EffectAction()
            self.assertEqual(await push.pushAction(short),
                             [EffectTuple(actionId=short.uuid, count=1)])
            expires: Any = self.expires_at(short.uuid)
            self.assertIsNotNone(expires)
            await wait_for(lambda: time.time() > expires, 10, "the 1 s window to pass")
            self.assertEqual(await push.pushAction(short),
                             [EffectTuple(actionId=short.uuid, count=2)])
            self.assertEqual(server.attempts(short.uuid), 2)

        return Deferred.fromCoroutine(run())


class DurableDedupOnSqlite(_DurableDedup):
    database = "sqlite"


class DurableDedupOnPostgres(_DurableDedup):
    database = "postgres"


del _DurableDedup
