"""Where action processors remember final action outcomes, by processor name and action id.

A :class:`~peek_vortex.handlers._action_processor.TupleActionProcessor` answers a repeated
action id from the outcome it recorded the first time, without running the action again.
It records only outcomes that must not be repeated: a success, and a refusal the delegate
marks as final (:class:`~peek_vortex.errors.TupleActionRefusedError`).

The store is chosen per router, its ``action_outcome_store``: the platform installs a
durable one on the server (rows in the platform schema, so a retry after a server restart
is still answered from the record); without one (None), each processor keeps its outcomes
in memory (:class:`MemoryActionOutcomeStore`: in-memory buses, tests, other services).

A store answers with Deferreds so a durable one can do its database work in threads; the
processor calls it from the reactor thread only.
"""

from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from peek_vortex.wire._codec import PayloadEnvelope

#: Seconds an outcome is remembered unless the platform's config says otherwise.
DEFAULT_WINDOW_SECONDS = 600.0

#: The longest action id a processor accepts (a uuid is 36 characters); durable stores
#: index the id, so it is bounded.
MAX_ACTION_ID_LENGTH = 128

#: The longest processor name (durable stores key records by name and id).
MAX_PROCESSOR_NAME_LENGTH = 255


@dataclass(frozen=True)
class ActionOutcome:
    """One action's encoded answer: the result body, or a final error ``(code, message)``."""

    body: bytes
    compression: Optional[str]
    inflated_size: Optional[int]
    error: Optional[tuple[str, str]]

    def envelope(self) -> PayloadEnvelope:
        """A fresh reply envelope (sending one stamps it with that request's id)."""
        return PayloadEnvelope(
            filt={}, encodedPayload=self.body, compression=self.compression,
            inflatedSize=self.inflated_size, error=self.error,
        )


class ActionOutcomeStore(metaclass=ABCMeta):
    """Remembers final action outcomes for a window of seconds.

    ``window_seconds`` is the store's default window; :meth:`save` may be given another
    one (a processor constructed with an explicit ``dedupeSeconds``).
    """

    window_seconds: float

    @abstractmethod
    def load(self, processor: str, action_id: str) -> "Deferred[Optional[ActionOutcome]]":
        """The unexpired outcome recorded for ``action_id`` of ``processor``, or None.

        Fails when the store cannot tell (the processor then runs nothing).
        """

    @abstractmethod
    def save(
        self, processor: str, action_id: str, outcome: ActionOutcome,
        window_seconds: Optional[float] = None,
    ) -> "Deferred[None]":
        """Record ``outcome``, replacing any earlier record of the id; fires once it is
        stored (durably, for a durable store)."""


class MemoryActionOutcomeStore(ActionOutcomeStore):
    """Outcomes in memory, expiring on ``clock``, at most ``max_entries`` (oldest go first).

    Answers with already-fired Deferreds, so an in-memory bus stays synchronous.
    """

    def __init__(
        self, clock: IReactorTime, window_seconds: float = DEFAULT_WINDOW_SECONDS,
        max_entries: int = 10_000,
    ) -> None:
        self.clock = clock
        self.window_seconds = window_seconds
        self.max_entries = max_entries
        # In recording order, so expiry only looks at the front (sorted by expiry while
        # every save uses the same window, which is what a processor does).
        self._outcomes: OrderedDict[tuple[str, str], tuple[ActionOutcome, float]] = (
            OrderedDict()
        )

    def _expire(self) -> None:
        now = self.clock.seconds()
        while self._outcomes:
            key, (_, expires) = next(iter(self._outcomes.items()))
            if expires > now and len(self._outcomes) <= self.max_entries:
                break
            del self._outcomes[key]

    def get(self, processor: str, action_id: str) -> Optional[ActionOutcome]:
        """The unexpired outcome, synchronously."""
        self._expire()
        found = self._outcomes.get((processor, action_id))
        # Checked here too: with mixed windows a later entry can expire before the front.
        if found is None or found[1] <= self.clock.seconds():
            return None
        return found[0]

    def load(self, processor: str, action_id: str) -> "Deferred[Optional[ActionOutcome]]":
        return succeed(self.get(processor, action_id))

    def save(
        self, processor: str, action_id: str, outcome: ActionOutcome,
        window_seconds: Optional[float] = None,
    ) -> "Deferred[None]":
        window = self.window_seconds if window_seconds is None else window_seconds
        key = (processor, action_id)
        self._outcomes.pop(key, None)
        self._outcomes[key] = (outcome, self.clock.seconds() + window)
        self._expire()
        return succeed(None)

    def __len__(self) -> int:
        self._expire()
        return len(self._outcomes)
