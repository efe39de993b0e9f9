"""Entry hook of ``fx_actions``, the server-only fixture plugin of the action security tests.

Its processor ``fx_actions`` (accepting ``peek-client``) has two delegates, both doing
their work in a thread and keeping durable files under the plugin's data folder:

- ``EffectAction``: appends the action id to ``attempts.log`` on every run; when
  ``failFirst`` is set, the first run of an id fails like a locked database (a transient
  error); otherwise it appends the id to ``effects.log`` (flushed and fsynced before it
  returns, like a committed transaction) and answers ``EffectTuple(actionId, count)``,
  ``count`` being how many times that id's effect is in the file.
- ``RefuseAction``: appends the id to ``attempts.log`` and refuses for good
  (``TupleActionRefusedError``).
"""

import os
import sqlite3
from pathlib import Path
from typing import Any, Optional

from peek_plugin_base.PeekVortexUtil import peekClientName
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.vortex import (
    Tuple,
    TupleActionABC,
    TupleActionProcessor,
    TupleActionProcessorDelegateABC,
    TupleActionRefusedError,
    TupleField,
    addTupleType,
    deferToThreadWrap,
)

PLUGIN = "fx_actions"
PROCESSOR = "fx_actions"
FILT = {"plugin": PLUGIN}

PLUGIN_SOURCE = '''
"""Fixture plugin of the action security tests."""
from tests.security.action_fixture import peekServerEntryHook as peekServerEntryHook
'''


@addTupleType
class EffectAction(TupleActionABC):
    """Apply one effect (once per action id); ``failFirst``: the first run fails."""

    __tupleType__ = "fx_actions.EffectAction"

    failFirst = TupleField(defaultValue=False)


@addTupleType
class RefuseAction(TupleActionABC):
    """Always refused for good."""

    __tupleType__ = "fx_actions.RefuseAction"


@addTupleType
class EffectTuple(Tuple):
    """The answer to an EffectAction: how many times its effect is recorded."""

    __tupleType__ = "fx_actions.EffectTuple"

    actionId = TupleField()
    count = TupleField()


def lines_of(path: Path) -> list[str]:
    """The lines of a log file (none when it does not exist yet)."""
    return path.read_text().splitlines() if path.exists() else []


def append_durably(path: Path, line: str) -> None:
    with path.open("a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


class FixtureDelegate(TupleActionProcessorDelegateABC):
    """Applies EffectActions to ``effects.log``; refuses RefuseActions."""

    def __init__(self, data: Path) -> None:
        self.attempts = data / "attempts.log"
        self.effects = data / "effects.log"

    @deferToThreadWrap
    def processTupleAction(self, tupleAction: TupleActionABC) -> Any:
        action_id = tupleAction.uuid
        earlier = lines_of(self.attempts).count(action_id)
        append_durably(self.attempts, action_id)
        if isinstance(tupleAction, RefuseAction):
            raise TupleActionRefusedError(f"action {action_id} is refused for good")
        if tupleAction.failFirst and earlier == 0:
            raise sqlite3.OperationalError("database is locked")
        append_durably(self.effects, action_id)
        return [EffectTuple(actionId=action_id, count=lines_of(self.effects).count(action_id))]


class FixtureServerHook(PluginServerEntryHookABC):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._processor: Optional[TupleActionProcessor] = None

    def load(self) -> None:
        pass

    def start(self) -> None:
        self._processor = TupleActionProcessor(
            PROCESSOR, FILT, FixtureDelegate(self.platform.fileStorageDirectory),
            acceptOnlyFromVortex=peekClientName,
        )

    def stop(self) -> None:
        if self._processor is not None:
            self._processor.shutdown()

    def unload(self) -> None:
        pass


def peekServerEntryHook() -> type[PluginServerEntryHookABC]:
    return FixtureServerHook
