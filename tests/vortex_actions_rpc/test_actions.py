"""Actions: one response per action, idempotent retries, the client proxy and the push client."""

import datetime
import logging
import re
from typing import Any, Optional

import orjson
import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from peek_plugin_base.testing import MemoryVortex
from peek_plugin_base.vortex import (
    AccessDeniedError,
    ActionTimeoutError,
    Payload,
    PayloadEndpoint,
    PayloadEnvelope,
    PayloadRouter,
    RemoteError,
    TupleActionABC,
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
    TupleActionProcessorProxy,
    TupleActionPushClient,
    TupleActionRefusedError,
    TupleGenericAction,
    TupleSelector,
    TupleUpdateAction,
)
from peek_vortex import OwnershipScope, owned_by
from peek_vortex.errors import (
    ActionOutcomeUnavailableError,
    InvalidActionError,
    NoEndpointError,
    ReplyTimeoutError,
    RoutingError,
    UnknownActionTypeError,
)
from peek_vortex.handlers import (
    MAX_ACTION_ID_LENGTH,
    ActionOutcome,
    ActionOutcomeStore,
)
from peek_vortex.tuples import action_filt
from peek_vortex.wire import Originator
from tests.support import result_of
from tests.vortex_actions_rpc.helpers import (
    AddIntValueAction,
    OrphanAction,
    StringIntTuple,
    ToggleCapsAction,
    record_received,
)

NAME = "tutorialActions"
FILT = {"plugin": "peek_plugin_tutorial"}


class Store(TupleActionProcessorDelegateABC):
    """The tutorial's controller over an in-memory table; records every action it runs."""

    def __init__(self) -> None:
        self.rows = {1: StringIntTuple(id=1, string1="Hello", int1=10)}
        self.ran: list[TupleActionABC] = []
        self.pending: list[Deferred[Any]] = []
        self.hold = False

    def processTupleAction(self, tupleAction: TupleActionABC) -> Any:
        self.ran.append(tupleAction)
        if self.hold:
            # Finish later, like a delegate that waits on a database thread.
            d: Deferred[Any] = Deferred()
            self.pending.append(d)
            return d.addCallback(lambda _: self._apply(tupleAction))
        return self._apply(tupleAction)

    def _apply(self, action: TupleActionABC) -> list[StringIntTuple]:
        if isinstance(action, AddIntValueAction):
            if action.offset == 0:
                raise ValueError("offset must not be zero")
            row = self.rows[action.stringIntId]
            row.int1 += action.offset
            return [row]
        assert isinstance(action, ToggleCapsAction)
        row = self.rows[action.stringIntId]
        row.string1 = row.string1.lower() if row.string1[0].isupper() else row.string1.upper()
        return [row]


@pytest.fixture
def store() -> Store:
    """A fresh delegate with one row (id 1, "Hello", 10)."""
    return Store()


def server_and_device(bus: MemoryVortex, store: Store, **processor_args: Any) -> tuple:
    """A server with the tutorial's processor and a device linked straight to it."""
    server, device = bus.node("peek-server"), bus.node("device")
    bus.link(device, server)
    processor = TupleActionProcessor(
        NAME, additionalFilt=FILT, defaultDelegate=store, router=server.router, **processor_args
    )
    push = TupleActionPushClient(NAME, "peek-server", additionalFilt=FILT, router=device.router)
    return server, device, processor, push


def test_action_tuples_carry_a_fresh_id_and_time_and_survive_the_wire() -> None:
    """Every constructed action gets its own uuid and a UTC time; decoding keeps both."""
    a, b = AddIntValueAction(stringIntId=1, offset=2), AddIntValueAction(stringIntId=1, offset=2)
    assert a.uuid != b.uuid and len(a.uuid) == 36
    assert a.dateTime.tzinfo is not None
    assert abs(a.dateTime - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(seconds=5)
    generic = TupleGenericAction("click", {"button": "ok"})
    update = TupleUpdateAction(
        "tests.actions_rpc.StringIntTuple", TupleSelector("t", {"id": 1}), [1], {"int1": 5}
    )
    decoded = Payload.fromVortexMsg(Payload(tuples=[a, generic, update]).toVortexMsg()).tuples
    assert decoded == [a, generic, update]
    assert (decoded[1].key, decoded[1].data) == ("click", {"button": "ok"})
    assert decoded[2].tupleSelector == TupleSelector("t", {"id": 1})
    assert decoded[2].tupleTypeName == "tests.actions_rpc.StringIntTuple"


def test_success_gets_exactly_one_response_with_the_result_tuples(
    bus: MemoryVortex, store: Store
) -> None:
    """A successful action is answered once, with the delegate's tuples."""
    _, device, _, push = server_and_device(bus, store)
    received = record_received(device)
    result = result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=5)))
    assert result == [StringIntTuple(id=1, string1="Hello", int1=15)]
    assert len(received) == 1 and received[0].error is None


def test_delegate_error_gets_exactly_one_error_response(bus: MemoryVortex, store: Store) -> None:
    """A delegate exception reaches the pusher as its type name and an error id, once."""
    _, device, _, push = server_and_device(bus, store)
    received = record_received(device)
    with pytest.raises(RemoteError) as info:
        result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=0)))
    assert info.value.code == "ValueError"
    assert re.fullmatch(r"internal error, id [0-9a-f]{12}", info.value.message), info.value
    assert len(received) == 1


def test_deferred_delegate_answers_when_it_finishes(bus: MemoryVortex, store: Store) -> None:
    """A delegate returning an unfired Deferred is answered when it fires, not before."""
    _, device, _, push = server_and_device(bus, store)
    store.hold = True
    received = record_received(device)
    pushed = push.pushAction(ToggleCapsAction(stringIntId=1))
    assert not pushed.called and received == []
    store.pending[0].callback(None)
    assert result_of(pushed)[0].string1 == "hello"
    assert len(received) == 1


def test_unknown_action_type_is_an_error_naming_it(bus: MemoryVortex, store: Store) -> None:
    """A type without delegate (and no default) gets UnknownActionTypeError naming it."""
    server, device, processor, push = server_and_device(bus, store)
    processor.shutdown()
    typed = TupleActionProcessor(NAME, additionalFilt=FILT, router=server.router)
    typed.setDelegate(AddIntValueAction, store)
    with pytest.raises(RemoteError) as info:
        result_of(push.pushAction(OrphanAction()))
    assert info.value.code == UnknownActionTypeError.code
    assert OrphanAction.tupleName() in info.value.message
    assert result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=1)))[0].int1 == 11
    assert store.ran and not any(isinstance(a, OrphanAction) for a in store.ran)


def test_type_not_registered_on_the_server_is_an_error_naming_it(
    bus: MemoryVortex, store: Store
) -> None:
    """An action whose type the server does not know is answered with the decode error."""
    _, device, processor, _ = server_and_device(bus, store)
    body = orjson.dumps({"T": [["elsewhere.SomeAction", ["uuid"]]], "R": [[0, ["abc"]]]})
    request = PayloadEnvelope(filt=processor.filt, encodedPayload=body)
    with pytest.raises(RemoteError) as info:
        result_of(device.router.request(request, "peek-server"))
    assert info.value.code == "UnknownTupleTypeError"
    assert "elsewhere.SomeAction" in info.value.message
    assert store.ran == []


def test_per_type_delegate_wins_over_the_default(bus: MemoryVortex, store: Store) -> None:
    """setDelegate routes one type to its delegate; other types go to the default."""
    _, _, processor, push = server_and_device(bus, store)
    toggler = Store()
    processor.setDelegate(ToggleCapsAction, toggler)
    result_of(push.pushAction(ToggleCapsAction(stringIntId=1)))
    result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=1)))
    assert [type(a) for a in toggler.ran] == [ToggleCapsAction]
    assert [type(a) for a in store.ran] == [AddIntValueAction]


def test_not_exactly_one_action_is_refused(bus: MemoryVortex, store: Store) -> None:
    """A message with two actions, or a non-action tuple, is refused without running."""
    _, device, processor, _ = server_and_device(bus, store)
    for tuples in ([AddIntValueAction(), AddIntValueAction()], [StringIntTuple(id=1)], []):
        with pytest.raises(RemoteError) as info:
            result_of(device.router.request(Payload(processor.filt, tuples), "peek-server"))
        assert info.value.code == InvalidActionError.code
    assert store.ran == []


def test_retry_with_the_same_id_returns_the_first_result_without_running_again(
    bus: MemoryVortex, store: Store
) -> None:
    """A repeated action id gets the first answer; the delegate ran once."""
    _, _, _, push = server_and_device(bus, store)
    action = AddIntValueAction(stringIntId=1, offset=5)
    first = result_of(push.pushAction(action))
    again = result_of(push.pushAction(action))
    assert first == again == [StringIntTuple(id=1, string1="Hello", int1=15)]
    assert len(store.ran) == 1 and store.rows[1].int1 == 15


def test_transient_failure_is_not_remembered_and_the_retry_runs(
    bus: MemoryVortex, store: Store
) -> None:
    """A delegate failure other than a final refusal is answered but not remembered: the
    retry of the same id runs the delegate again and gets its success."""
    _, _, _, push = server_and_device(bus, store)
    action = AddIntValueAction(stringIntId=1, offset=0)
    with pytest.raises(RemoteError) as info:
        result_of(push.pushAction(action))
    assert (info.value.code, len(store.ran)) == ("ValueError", 1)
    action.offset = 2  # the cause went away (as a database outage would)
    assert result_of(push.pushAction(action)) == [StringIntTuple(id=1, string1="Hello", int1=12)]
    assert result_of(push.pushAction(action))[0].int1 == 12
    assert len(store.ran) == 2


class RefusingDelegate(TupleActionProcessorDelegateABC):
    """Refuses every action for good, counting its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def processTupleAction(self, tupleAction: TupleActionABC) -> Any:
        self.runs += 1
        raise TupleActionRefusedError(f"row {tupleAction.stringIntId} was deleted")


def test_final_refusal_is_remembered_like_a_success(bus: MemoryVortex) -> None:
    """TupleActionRefusedError is answered and remembered: a retry gets the same refusal
    without running the delegate again."""
    refuser = RefusingDelegate()
    _, device, _, push = server_and_device(bus, refuser)  # type: ignore[arg-type]
    action = AddIntValueAction(stringIntId=4, offset=1)
    for _ in range(2):
        with pytest.raises(RemoteError) as info:
            result_of(push.pushAction(action))
        assert (info.value.code, info.value.message) == (
            "TupleActionRefusedError", "row 4 was deleted")
    assert refuser.runs == 1


def test_dedupe_memory_expires_on_the_clock(bus: MemoryVortex, store: Store, clock: Clock) -> None:
    """After dedupeSeconds a repeated id runs again: the cache is bounded in time."""
    _, _, processor, push = server_and_device(bus, store, dedupeSeconds=60.0)
    action = AddIntValueAction(stringIntId=1, offset=1)
    result_of(push.pushAction(action))
    clock.advance(59)
    result_of(push.pushAction(action))
    assert len(store.ran) == 1
    clock.advance(2)
    assert result_of(push.pushAction(action))[0].int1 == 12
    assert len(store.ran) == 2 and len(processor.cache) == 1


def test_dedupe_memory_is_bounded_in_size(bus: MemoryVortex, store: Store) -> None:
    """Beyond dedupeMaxEntries the oldest answer is forgotten (and only that one)."""
    _, _, processor, push = server_and_device(bus, store, dedupeMaxEntries=2)
    a, b, c = (AddIntValueAction(stringIntId=1, offset=1) for _ in range(3))
    for action in (a, b, c):
        result_of(push.pushAction(action))
    assert len(processor.cache) == 2
    result_of(push.pushAction(c))
    assert len(store.ran) == 3
    result_of(push.pushAction(a))
    assert len(store.ran) == 4


def test_proxy_relays_device_actions_and_answers_without_reencoding(
    bus: MemoryVortex, store: Store
) -> None:
    """device -> client proxy -> server processor and back; the body bytes are unchanged and
    the server sees the device as the originator."""
    server, client = bus.node("peek-server"), bus.node("peek-client")
    device = bus.node("peek-mobile", device=True)
    bus.link(client, server)
    bus.link(device, client)
    TupleActionProcessor(NAME, FILT, defaultDelegate=store, acceptOnlyFromVortex="peek-mobile",
                         router=server.router)
    TupleActionProcessorProxy(NAME, "peek-server", additionalFilt=FILT, router=client.router)
    push = TupleActionPushClient(NAME, "peek-client", additionalFilt=FILT, router=device.router)
    at_server, at_device = record_received(server), record_received(device)
    action = AddIntValueAction(stringIntId=1, offset=4)
    assert result_of(push.pushAction(action)) == [StringIntTuple(id=1, string1="Hello", int1=14)]
    sent_body = Payload(push.filt, [action]).makePayloadEnvelope().encodedPayload
    assert at_server[0].encodedPayload == sent_body
    assert at_server[0].originator == Originator("peek-mobile", device.uuid, True)
    assert len(at_device) == 1
    with pytest.raises(RemoteError) as info:
        result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=0)))
    assert info.value.code == "ValueError" and len(at_device) == 2


def test_processor_for_services_only_refuses_a_device_action_through_the_proxy(
    bus: MemoryVortex, store: Store
) -> None:
    """acceptOnlyFromVortex="peek-client" sees the device behind the client's proxy."""
    server, client = bus.node("peek-server"), bus.node("peek-client")
    device = bus.node("peek-mobile", device=True)
    bus.link(client, server)
    bus.link(device, client)
    TupleActionProcessor(NAME, FILT, defaultDelegate=store, acceptOnlyFromVortex="peek-client",
                         router=server.router)
    TupleActionProcessorProxy(NAME, "peek-server", additionalFilt=FILT, router=client.router)
    push = TupleActionPushClient(NAME, "peek-client", additionalFilt=FILT, router=device.router)
    with pytest.raises(RemoteError) as info:
        result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=4)))
    assert info.value.code == "AccessDeniedError" and "peek-mobile" in info.value.message
    assert store.ran == []


def silent_processor(router: PayloadRouter) -> PayloadEndpoint:
    """An endpoint on the action key that never answers (a hung server-side handler)."""
    return PayloadEndpoint(action_filt(NAME, FILT), lambda **_: None, router=router)


def test_proxy_answers_with_an_error_when_the_server_does_not(
    bus: MemoryVortex, clock: Clock
) -> None:
    """With no server answer the proxy still answers the device once, with a timeout."""
    server, client, device = bus.node("peek-server"), bus.node("peek-client"), bus.node("device")
    bus.link(client, server)
    bus.link(device, client)
    silent_processor(server.router)
    TupleActionProcessorProxy(NAME, "peek-server", FILT, router=client.router, timeoutSeconds=5)
    push = TupleActionPushClient(NAME, "peek-client", FILT, router=device.router)
    at_device = record_received(device)
    pushed = push.pushAction(AddIntValueAction(), timeout=10)
    clock.advance(5)
    with pytest.raises(RemoteError) as info:
        result_of(pushed)
    assert info.value.code == ReplyTimeoutError.code and len(at_device) == 1


def test_push_client_times_out_naming_the_action(bus: MemoryVortex, clock: Clock) -> None:
    """No answer within the timeout fails the push with ActionTimeoutError naming it."""
    server, device = bus.node("peek-server"), bus.node("device")
    bus.link(device, server)
    silent_processor(server.router)
    push = TupleActionPushClient(NAME, "peek-server", FILT, router=device.router)
    action = AddIntValueAction()
    pushed = push.pushAction(action, timeout=3)
    clock.advance(2.9)
    assert not pushed.called
    clock.advance(0.2)
    with pytest.raises(ActionTimeoutError) as info:
        result_of(pushed)
    assert action.uuid in str(info.value) and AddIntValueAction.tupleName() in str(info.value)
    assert isinstance(info.value, ReplyTimeoutError)


def test_push_client_retry_after_a_lost_attempt_runs_the_action_once(
    bus: MemoryVortex, store: Store, clock: Clock
) -> None:
    """A retried push resends the same id; a late processor answers it and runs it once."""
    server, device = bus.node("peek-server"), bus.node("device")
    bus.link(device, server)
    push = TupleActionPushClient(NAME, "peek-server", FILT, router=device.router)
    hung = silent_processor(server.router)
    pushed = push.pushAction(AddIntValueAction(stringIntId=1, offset=2), timeout=1, retries=2)
    clock.advance(1)  # attempt 1 times out; attempt 2 goes out at once and is lost too
    hung.shutdown()
    TupleActionProcessor(NAME, FILT, defaultDelegate=store, router=server.router)
    assert not pushed.called
    clock.advance(1)  # attempt 2 times out; attempt 3 (same id) is answered
    assert result_of(pushed)[0].int1 == 12
    assert len(store.ran) == 1


def test_processor_refuses_senders_outside_accept_only(
    bus: MemoryVortex, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """acceptOnlyFromVortex refuses other senders with AccessDeniedError, warning once."""
    _, _, _, push = server_and_device(bus, store, acceptOnlyFromVortex=["peek-client"])
    with caplog.at_level(logging.DEBUG, "peek_vortex"):
        for _ in range(2):
            with pytest.raises(RemoteError) as info:
                result_of(push.pushAction(AddIntValueAction(stringIntId=1, offset=1)))
            assert info.value.code == AccessDeniedError.code
            assert "'device'" in info.value.message
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.msg]
    assert len(warnings) == 1 and store.ran == []


def test_plugin_rollback_removes_processor_and_proxy(bus: MemoryVortex, store: Store) -> None:
    """Processors and proxies made while a plugin loads are removed by its rollback."""
    server, client = bus.node("peek-server"), bus.node("peek-client")
    log = OwnershipScope("peek_plugin_tutorial")
    with owned_by(log):
        TupleActionProcessor(NAME, FILT, defaultDelegate=store, router=server.router)
        TupleActionProcessorProxy(NAME, "peek-server", FILT, router=client.router)
    assert server.router.endpoint_count == 1 and client.router.endpoint_count == 1
    assert any("tuple action processor" in d for d in log.descriptions)
    log.rollback()
    assert server.router.endpoint_count == 0 and client.router.endpoint_count == 0


class AsyncDelegate(TupleActionProcessorDelegateABC):
    """A coroutine delegate whose result is not tuples when asked to misbehave."""

    def __init__(self) -> None:
        self.runs = 0

    async def processTupleAction(self, tupleAction: TupleActionABC) -> Any:
        self.runs += 1
        if isinstance(tupleAction, ToggleCapsAction):
            return "not tuples"
        return StringIntTuple(id=tupleAction.stringIntId)


def test_coroutine_delegate_and_a_bad_result_each_get_one_answer(bus: MemoryVortex) -> None:
    """A coroutine delegate's single tuple is answered as a list; a non-tuple result is an
    error response (TypeError), still exactly one, and final: the delegate did its work,
    so a retry gets the same error without running it again."""
    delegate = AsyncDelegate()
    _, device, _, push = server_and_device(bus, delegate)  # type: ignore[arg-type]
    received = record_received(device)
    assert result_of(push.pushAction(AddIntValueAction(stringIntId=9))) == [StringIntTuple(id=9)]
    bad = ToggleCapsAction(stringIntId=1)
    for _ in range(2):
        with pytest.raises(RemoteError) as info:
            result_of(push.pushAction(bad))
        assert info.value.code == "TypeError" and "internal error, id" in info.value.message
    assert len(received) == 3 and delegate.runs == 2


def test_one_handler_per_processor_name_on_a_bus(bus: MemoryVortex, store: Store) -> None:
    """A second processor or a proxy of the same name on one bus is refused (it would make
    a second response); after shutdown the name is free again."""
    server = bus.node("peek-server")
    first = TupleActionProcessor(NAME, FILT, defaultDelegate=store, router=server.router)
    with pytest.raises(RoutingError, match="already handled"):
        TupleActionProcessor(NAME, {"other": 1}, defaultDelegate=store, router=server.router)
    with pytest.raises(RoutingError, match="already handled"):
        TupleActionProcessorProxy(NAME, "peek-server", FILT, router=server.router)
    assert server.router.endpoint_count == 1
    first.shutdown()
    TupleActionProcessorProxy(NAME, "peek-server", FILT, router=server.router)


def test_push_to_a_process_without_the_processor_fails_at_once(
    bus: MemoryVortex, clock: Clock
) -> None:
    """A server not running the processor answers NoEndpointError now, not at the timeout."""
    server, device = bus.node("peek-server"), bus.node("device")
    bus.link(device, server)
    push = TupleActionPushClient(NAME, "peek-server", FILT, router=device.router)
    pushed = push.pushAction(AddIntValueAction(), timeout=30)
    with pytest.raises(RemoteError) as info:
        result_of(pushed)
    assert info.value.code == NoEndpointError.code
    assert "peek-server has no handler" in info.value.message


class ManualStore(ActionOutcomeStore):
    """An installed outcome store whose loads and saves finish when the test says so."""

    def __init__(self) -> None:
        self.window_seconds = 600.0
        self.records: dict[tuple[str, str], ActionOutcome] = {}
        self.loads: list[Deferred[Any]] = []
        self.saves: list[Deferred[None]] = []

    def load(self, processor: str, action_id: str) -> "Deferred[Optional[ActionOutcome]]":
        d: Deferred[Any] = Deferred()
        self.loads.append(d)
        return d.addCallback(lambda _: self.records.get((processor, action_id)))

    def save(self, processor: str, action_id: str, outcome: ActionOutcome,
             window_seconds: Optional[float] = None) -> "Deferred[None]":
        d: Deferred[None] = Deferred()
        self.saves.append(d)
        return d.addCallback(lambda _: self.records.update({(processor, action_id): outcome}))


@pytest.fixture
def manual_store(bus: MemoryVortex) -> Any:
    """A ManualStore installed on the server node's router (removed afterwards)."""
    manual = ManualStore()
    server = bus.node("peek-server")
    server.router.action_outcome_store = manual
    yield server, manual
    server.router.action_outcome_store = None


def linked_processor(bus: MemoryVortex, server: Any, store: Store) -> TupleActionPushClient:
    """The tutorial processor on ``server`` and a push client on a device linked to it."""
    device = bus.node("device")
    bus.link(device, server)
    TupleActionProcessor(NAME, FILT, defaultDelegate=store, router=server.router)
    return TupleActionPushClient(NAME, "peek-server", FILT, router=device.router)


def test_installed_store_duplicates_join_while_the_record_is_read_and_written(
    bus: MemoryVortex, store: Store, manual_store: Any
) -> None:
    """With a store that answers later (a database thread), a repeat arriving while the
    record is being read, or written, joins the first run: one run, and no answer before
    the outcome is recorded."""
    server, manual = manual_store
    push = linked_processor(bus, server, store)
    action = AddIntValueAction(stringIntId=1, offset=3)
    first = push.pushAction(action)
    second = push.pushAction(action)
    assert len(manual.loads) == 1 and store.ran == []
    manual.loads[0].callback(None)
    third = push.pushAction(action)
    assert len(store.ran) == 1 and len(manual.saves) == 1
    assert not first.called and not second.called and not third.called
    manual.saves[0].callback(None)
    answers = [result_of(d) for d in (first, second, third)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0].int1 == 13 and len(manual.records) == 1
    # A later repeat is answered from the record, without running.
    again = push.pushAction(action)
    manual.loads[1].callback(None)
    assert result_of(again)[0].int1 == 13 and len(store.ran) == 1


def test_unreadable_record_runs_nothing_and_says_so(
    bus: MemoryVortex, store: Store, manual_store: Any
) -> None:
    """When the record cannot be read the action is not run (it may have run before) and
    the answer is ActionOutcomeUnavailableError; the retry runs once the store is back."""
    server, manual = manual_store
    push = linked_processor(bus, server, store)
    action = AddIntValueAction(stringIntId=1, offset=3)
    pushed = push.pushAction(action)
    manual.loads[0].errback(OSError("disk I/O error"))
    with pytest.raises(RemoteError) as info:
        result_of(pushed)
    assert info.value.code == ActionOutcomeUnavailableError.code
    assert "disk" not in info.value.message and store.ran == []
    retried = push.pushAction(action)
    manual.loads[1].callback(None)
    manual.saves[0].callback(None)
    assert result_of(retried)[0].int1 == 13 and len(store.ran) == 1


def test_unrecordable_success_is_still_answered_and_remembered_in_memory(
    bus: MemoryVortex, store: Store, manual_store: Any
) -> None:
    """A success the store fails to record is answered as a success (the effect happened;
    an error would make the sender apply it again) and kept in the processor's memory."""
    server, manual = manual_store
    push = linked_processor(bus, server, store)
    action = AddIntValueAction(stringIntId=1, offset=3)
    pushed = push.pushAction(action)
    manual.loads[0].callback(None)
    manual.saves[0].errback(OSError("database is locked"))
    assert result_of(pushed)[0].int1 == 13
    assert result_of(push.pushAction(action))[0].int1 == 13
    assert len(store.ran) == 1 and len(manual.loads) == 1


def test_overlong_action_id_is_invalid(bus: MemoryVortex, store: Store) -> None:
    """Action ids are bounded (records index them): a longer id is refused unrun."""
    _, _, _, push = server_and_device(bus, store)
    action = AddIntValueAction(stringIntId=1, offset=1)
    action.uuid = "x" * (MAX_ACTION_ID_LENGTH + 1)
    with pytest.raises(RemoteError) as info:
        result_of(push.pushAction(action))
    assert info.value.code == InvalidActionError.code and store.ran == []
