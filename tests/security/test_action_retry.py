"""Finding 4: a failed action is not remembered, so its retry runs; only final outcomes are.

A real server runs the ``fx_actions`` fixture plugin (see
:mod:`tests.security.action_fixture`); a Python ``peek-client`` peer pushes actions over
a real websocket. On cf1af6c the first failure of an action id was cached for 600 s and
every retry got the old error without running.
"""

import shutil
import tempfile
from pathlib import Path

from twisted.internet.defer import Deferred, gatherResults
from twisted.trial.unittest import TestCase

from peek_plugin_base.vortex import RemoteError, TupleActionRefusedError
from tests.security.action_fixture import EffectAction, EffectTuple, RefuseAction
from tests.security.action_harness import ActionServer, connect_pusher


class ActionRetryTests(TestCase):
    """One server process per test, on its own home and ports."""

    timeout = 120

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-sec-retry-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.server = ActionServer(root)
        self.addCleanup(self.server.stop)
        self.server.start()

    def test_transient_failure_retry_runs_and_final_refusal_is_remembered(
        self,
    ) -> Deferred[None]:
        """A delegate failing like a locked database is answered with that error and the
        retry of the same action id runs again and succeeds (effect applied once); a later
        repeat is answered from the success without running. A TupleActionRefusedError is
        remembered: its retry gets the same refusal without running. Five concurrent
        pushes of one new id run it once and all get the same answer."""

        async def run() -> None:
            server = self.server
            push = await connect_pusher(server, self.addCleanup)

            flaky = EffectAction(failFirst=True)
            try:
                await push.pushAction(flaky)
            except RemoteError as e:
                self.assertEqual(e.code, "OperationalError")
                self.assertRegex(e.message, r"^internal error, id [0-9a-f]{12}$")
            else:
                raise AssertionError("the first run must fail")
            expected = [EffectTuple(actionId=flaky.uuid, count=1)]
            self.assertEqual(await push.pushAction(flaky), expected)
            self.assertEqual(await push.pushAction(flaky), expected)
            self.assertEqual((server.attempts(flaky.uuid), server.effects(flaky.uuid)), (2, 1))

            refused = RefuseAction()
            for _ in range(2):
                try:
                    await push.pushAction(refused)
                except RemoteError as e:
                    self.assertEqual(e.code, TupleActionRefusedError.code)
                    self.assertIn(refused.uuid, e.message)
                else:
                    raise AssertionError("a refused action must fail")
            self.assertEqual(server.attempts(refused.uuid), 1)

            once = EffectAction()
            answers = await gatherResults([push.pushAction(once) for _ in range(5)])
            self.assertEqual(answers, [[EffectTuple(actionId=once.uuid, count=1)]] * 5)
            self.assertEqual((server.attempts(once.uuid), server.effects(once.uuid)), (1, 1))

        return Deferred.fromCoroutine(run())
