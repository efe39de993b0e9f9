"""Real processes: the tutorial's RPC example and observers survive a kill -9 of the server.

A server, a client and an agent run the tutorial plugin and the ``fx_e2e_rpc`` fixture
plugin (see :mod:`tests.e2e.rpc_fixture`); a Python device observes the fixture's
observable through the client service. The server is killed with SIGKILL and restarted on
the same home and ports.
"""

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import peekClientName
from peek_plugin_base.vortex import TupleDataObserverClient
from tests.e2e.processes_rpc import FIXTURE_PLUGIN, Device, Platform, wait_log
from tests.e2e.rpc_fixture import BOOT_SELECTOR, FILT, OBSERVABLE
from tests.vortex_transport.harness import wait_for

TUTORIAL = "peek_plugin_tutorial"
SUB_INTS = "Tutorial RPC: subInts(7, kwval1=5) = 2"
ADD_INTS = "Tutorial RPC: addInts chain from 5 ended at 40"


class ReconnectTests(TestCase):
    """Each test starts its own processes on free ports and stops them at the end."""

    timeout = 120

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-e2e-rpc-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.platform = Platform(root)
        self.addCleanup(self.platform.stop_all)

    def test_rpc_example_and_observers_work_again_after_server_kill(self) -> Deferred[None]:
        """After kill -9 and a restart of the server: the agent reconnects and the tutorial's
        RPC example runs again in both directions (40 and 2), the fixture's probe calls
        succeed again, and a device observing through the client service converges on the
        new server's data."""

        async def run() -> None:
            p = self.platform
            server = p.start("server", [TUTORIAL, FIXTURE_PLUGIN])
            await wait_log(server, "Peek server is running")
            agent = p.start("agent", [TUTORIAL, FIXTURE_PLUGIN])
            client = p.start("client", [TUTORIAL, FIXTURE_PLUGIN])
            await wait_log(server, SUB_INTS)
            await wait_log(agent, ADD_INTS)
            await wait_log(agent, "fx probe: ok")
            await wait_log(client, "Peek client is running")

            device = Device(p.mobile_port)
            await device.connect()
            self.addCleanup(device.close)
            observer = TupleDataObserverClient(
                observableName=OBSERVABLE, destVortexName=peekClientName,
                additionalFilt=FILT, router=device.router)
            self.addCleanup(observer.shutdown)
            seen: list[Any] = []
            observer.subscribeToTupleSelector(BOOT_SELECTOR).subscribe(
                lambda tuples: seen.append((tuples[0].boot, tuples[0].pid)))
            await wait_for(lambda: seen, 20, "the first observable data")
            self.assertEqual(seen, [(1, server.proc.pid)])

            server.proc.kill()
            server.proc.wait()
            # The agent notices at once: the call in flight and new calls fail clearly.
            await wait_log(agent, "fx hang call ended after")
            await wait_log(agent, "fx probe: failed after")

            restarted = p.start("server", [])
            await wait_log(restarted, "Peek server is running")
            await wait_log(restarted, SUB_INTS)
            await wait_log(agent, ADD_INTS, count=2)
            await wait_log(agent, f"fx probe: ok (server pid {restarted.proc.pid})")
            await wait_for(lambda: seen[-1] == (2, restarted.proc.pid), 20,
                             f"the device to see the new server's data; saw {seen}")
            # Data only moves forward: the first server's state, then the second's.
            self.assertEqual(seen[0], (1, server.proc.pid))
            self.assertTrue(all(state == seen[0] for state in seen[:-1]), seen)
            self.assertEqual(client.proc.poll(), None)
            self.assertNotIn("Traceback", agent.log() + client.log())

        return Deferred.fromCoroutine(run())

    def test_calls_while_the_server_is_down_fail_fast_with_a_clear_error(self) -> Deferred[None]:
        """With the server killed, the agent's RPC calls fail at once with errors naming
        the problem: the call in flight with ConnectionLostError, new calls with
        NoTransportError ("no connection to vortex 'peek-server'"), none after a timeout."""

        async def run() -> None:
            p = self.platform
            server = p.start("server", [FIXTURE_PLUGIN])
            await wait_log(server, "Peek server is running")
            agent = p.start("agent", [FIXTURE_PLUGIN])
            await wait_log(agent, "fx probe: ok")

            server.proc.kill()
            server.proc.wait()
            # The 10 s bounds are the proof of "no hang": the RPCs' own timeouts are 30 s
            # (ping) and 120 s (hang).
            hang = await wait_log(agent, "fx hang call ended after", timeout=10)
            in_flight = re.search(r"fx hang call ended after [\d.]+s: (\w+): (.*)", hang)
            assert in_flight is not None, hang
            self.assertEqual(in_flight.group(1), "ConnectionLostError")
            self.assertIn("peek-server", in_flight.group(2))

            # Once the loss is known, every new call fails at once, naming what is missing.
            log = await wait_log(agent, "NoTransportError", timeout=10)
            refused = re.search(r"fx probe: failed after ([\d.]+)s: NoTransportError: (.*)", log)
            assert refused is not None, log
            self.assertLess(float(refused.group(1)), 1.0)
            self.assertEqual(refused.group(2), "no connection to vortex 'peek-server'")
            self.assertNotIn("RpcTimeoutError", log)

        return Deferred.fromCoroutine(run())
