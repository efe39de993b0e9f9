"""Finding 9 (errors part): a handler whose database query fails answers devices and services
with a code and an error id, never the SQL or the database's host and port; the server's log
holds the detail under the same id."""

import itertools
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import peekAgentName, peekClientName, peekServerName
from peek_plugin_base.vortex import (
    Payload,
    RemoteError,
    TupleActionPushClient,
    TupleDataObserverClient,
)
from tests.e2e.devices_data import VortexPeer
from tests.security.leak_probe import (
    ACTIONS,
    DB_HOST,
    DB_PORT,
    ENDPOINT_FILT,
    FILT,
    LEAKY_SELECTOR,
    OBSERVABLE,
    SECRETS,
    SQL,
    FixtureRpc,
    QueryAction,
)
from tests.security.leak_probe_services import Services
from tests.vortex_transport.harness import wait_for

SAFE = re.compile(r"internal error, id (?P<id>[0-9a-f]{12})")
#: A log record starts with its time stamp; anything else continues the record above.
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.MULTILINE)


async def remote_error(d: "Deferred[Any]") -> RemoteError:
    """The RemoteError ``d`` fails with (fails the test if it succeeds or fails otherwise)."""
    try:
        result = await d
    except RemoteError as e:
        return e
    raise AssertionError(f"expected a RemoteError, got the result {result!r}")


class ErrorLeakTests(TestCase):
    """A real server and client with the fixture plugin; this process is a device on the
    client and an agent (service peer) on the server."""

    timeout = 120

    def setUp(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="peek-sec-leaks-"))
        self.addCleanup(shutil.rmtree, root, True)
        self.services = Services(root, self.addCleanup)

    def _assert_safe_and_logged(self, where: str, code: str, message: str) -> str:
        """The error names its class and an id and nothing of the query; the server's log
        has one record with that id holding the SQL, host and port. Returns the id."""
        text = f"{code}: {message}"
        assert code == "OperationalError", (where, text)
        found = SAFE.fullmatch(message)
        assert found, (where, text)
        error_id = found["id"]
        # The id is random hex: it may hold the port's digits by chance, so it is left out.
        bare = text.replace(error_id, "<id>")
        for secret in SECRETS:
            assert secret not in bare, (where, secret, text)
        log = self.services.server.log()
        starts = [m.start() for m in RECORD_START.finditer(log)] + [len(log)]
        records = [log[a:b] for a, b in itertools.pairwise(starts)
                   if f"error id {error_id}" in log[a:b]]
        assert len(records) == 1, (where, error_id, records)
        for detail in (SQL, DB_HOST, f"port {DB_PORT}", "Traceback"):
            assert detail in records[0], (where, detail, records[0])
        return error_id

    def test_failed_queries_reach_peers_as_code_and_id_with_detail_only_in_the_log(
            self) -> Deferred[None]:
        """Through the client service a device's action and its subscription, and on the
        server an agent's RPC call and raw request, all hit a handler whose database query
        fails: each answer is ``OperationalError`` / ``internal error, id <id>`` with no SQL,
        host or port in it, each id distinct, and each id in the server log next to the
        traceback holding the SQL, host and port."""

        async def run() -> None:
            device = await self.services.start()
            ids = []

            push = TupleActionPushClient(ACTIONS, peekClientName, additionalFilt=FILT,
                                         router=device.router)
            error = await remote_error(push.pushAction(QueryAction()))
            ids.append(self._assert_safe_and_logged("device action", error.code, error.message))

            observer = TupleDataObserverClient(
                observableName=OBSERVABLE, destVortexName=peekClientName,
                additionalFilt=FILT, router=device.router)
            self.addCleanup(observer.shutdown)
            observed = observer.subscribeToTupleSelector(LEAKY_SELECTOR)
            await wait_for(lambda: observed.error is not None, 10, "the provider's error")
            ids.append(self._assert_safe_and_logged(
                "device subscription", observed.error.code, observed.error.message))

            agent = VortexPeer(self.services.platform_port, peekAgentName, self.services.token)
            await agent.connect()
            self.addCleanup(agent.close)
            error = await remote_error(FixtureRpc.query.via(agent.router)())
            ids.append(self._assert_safe_and_logged("agent RPC", error.code, error.message))
            error = await remote_error(
                agent.router.request(Payload(filt=dict(ENDPOINT_FILT)), peekServerName))
            ids.append(self._assert_safe_and_logged("agent request", error.code, error.message))

            assert len(set(ids)) == len(ids), ids

        return Deferred.fromCoroutine(run())
