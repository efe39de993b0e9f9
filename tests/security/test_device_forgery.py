"""Finding 3: a device cannot forge observable data for the other devices of its client.

Real run_peek_server and run_peek_client processes with the tutorial plugin; two Python
devices on the client's mobile site over real websockets (a victim observing the StringInt
table, an attacker writing raw frames) and an admin service peer holding the token.
"""

from typing import Any

from peek_plugin_tutorial._private.PluginNames import tutorialFilt, tutorialObservableName
from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import filtKey
from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from peek_plugin_base.PeekVortexUtil import peekClientName, peekMobileName
from peek_plugin_base.storage import TupleLoaderClient
from peek_plugin_base.vortex import (
    Payload,
    PayloadEndpoint,
    PayloadEnvelope,
    RemoteError,
    TupleDataObserverClient,
    TupleSelector,
)
from peek_vortex.handlers import OP_UPDATE, ObservableMessages
from tests.e2e.devices_data import ServerAndClient
from tests.vortex_transport.harness import wait_for

PLUGINS = ["peek_plugin_tutorial"]
TIMEOUT = 10.0
MESSAGES = ObservableMessages(tutorialObservableName, tutorialFilt)
SELECTOR = TupleSelector(StringIntTuple.tupleName(), {})


def as_rows(tuples: Any) -> list[tuple[Any, Any]]:
    return [(t.string1, t.int1) for t in tuples or []]


class DeviceForgery(ServerAndClient, TestCase):
    """A server and a client service with the tutorial plugin."""

    timeout = 90

    def setUp(self) -> None:
        self.start_services(PLUGINS, "peek-sec-forgery-")

    async def _scenario(self) -> None:
        admin = await self.peer(self.platform_port, peekClientName, self.token)
        loader = TupleLoaderClient(filtKey, router=admin.router, timeoutSeconds=TIMEOUT)
        (row,) = await loader.save([StringIntTuple(string1="real", int1=1)])

        victim = await self.peer(self.mobile_port, peekMobileName)
        observer = TupleDataObserverClient(
            tutorialObservableName, peekClientName, tutorialFilt, router=victim.router)
        self.addCleanup(observer.shutdown)
        observed = observer.subscribeToTupleSelector(SELECTOR)
        history: list[list[tuple[Any, Any]]] = []
        observed.subscribe(lambda tuples: history.append(as_rows(tuples)))
        await wait_for(lambda: history, TIMEOUT, "the victim's first data")

        # The attacker subscribes too, to learn the real epoch from the updates it gets.
        attacker = await self.peer(self.mobile_port, peekMobileName)
        updates: list[PayloadEnvelope] = []
        PayloadEndpoint(MESSAGES.endpoint_filt(OP_UPDATE),
                        lambda payloadEnvelope, **_: updates.append(payloadEnvelope),
                        router=attacker.router)
        key = SELECTOR.toJsonStr()
        attacker.router.send(MESSAGES.subscribe(key), peekClientName)
        await wait_for(lambda: updates, TIMEOUT, "the attacker's first update")
        epoch = updates[0].filt["epoch"]
        forged_rows = [StringIntTuple(id=row.id, string1="FORGED", int1=-1)]
        connection = attacker.service.connection
        for dest in (peekMobileName, peekClientName):
            forged = PayloadEnvelope.fromVortexMsg(
                MESSAGES.update(Payload(tuples=forged_rows), key, 2**62, epoch))
            forged.destVortexName = dest
            attacker.router.send(forged, connection)
        # A round trip on the attacker's connection: the client has handled the forgeries
        # (and sent anything they caused) before this answer.
        try:
            await attacker.router.request(Payload({"key": "forgery.sync"}), peekClientName,
                                          timeout=TIMEOUT)
        except RemoteError as e:
            assert e.code == "NoEndpointError", e

        # A real change afterwards reaches the victim, which never saw the forgery.
        row.int1 = 2
        await loader.save([row])
        await wait_for(lambda: history[-1] == [("real", 2)], TIMEOUT,
                       f"the victim to see the real update (saw {history})")
        assert ("FORGED", -1) not in [r for rows in history for r in rows], history

    def test_forged_update_reaches_no_device_and_freezes_none(self) -> Deferred[None]:
        """A device sending an observable update with the real epoch and version 2**62,
        addressed to peek-mobile (the other devices) or to the client itself, reaches no
        other device, and the victim still receives the next real update."""
        return Deferred.fromCoroutine(self._scenario())
