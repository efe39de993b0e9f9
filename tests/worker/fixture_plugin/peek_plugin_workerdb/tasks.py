"""The DB test plugin's tasks."""

import os
import time
from pathlib import Path
from typing import Any, Optional

from peek_plugin_workerdb.storage import Item, ItemTuple
from sqlalchemy import Engine, func, select

from peek_plugin_base.worker import CeleryDbConn
from peek_plugin_base.worker.CeleryApp import peekTask


def stamp(engine: Engine) -> dict[str, Any]:
    """Mark ``engine`` with the pid that first used it, and count its uses."""
    # An engine inherited across fork would carry its creator's stamp (another pid).
    mark = engine.__dict__.setdefault("_peek_test_stamp", {"owner": os.getpid(), "uses": 0})
    mark["uses"] += 1
    return {"pid": os.getpid(), "owner": mark["owner"], "uses": mark["uses"],
            "engine": id(engine)}


def _barrier(folder: Optional[str], parties: int) -> None:
    """Wait until ``parties`` processes have reached this point (one file each)."""
    if not folder:
        return
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 30
    while len(list(Path(folder).iterdir())) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(Path(folder).iterdir()))} of {parties} "
                               "processes reached the barrier")
        time.sleep(0.01)


@peekTask
def engine_identity(barrier: Optional[str] = None, parties: int = 0) -> dict[str, Any]:
    """This process's engine (stamped) and the row count read through a session."""
    _barrier(barrier, parties)
    result = stamp(CeleryDbConn.getDbEngine())
    session = CeleryDbConn.getDbSession()
    result["rows"] = session.scalar(select(func.count()).select_from(Item))
    # A session left open by an earlier task would still carry this mark.
    result["fresh_session"] = "peek_test_used" not in session.info
    session.info["peek_test_used"] = True
    return result


@peekTask
def count_items() -> int:
    session = CeleryDbConn.getDbSession()
    try:
        return int(session.scalar(select(func.count()).select_from(Item)) or 0)
    finally:
        session.close()


@peekTask
def prefetch_and_insert(count: int, barrier: Optional[str] = None,
                        parties: int = 0) -> list[int]:
    """Reserve ``count`` ids, insert a row with each; the ids."""
    _barrier(barrier, parties)
    ids = list(CeleryDbConn.prefetchDeclarativeIds(Item, count) or [])
    session = CeleryDbConn.getDbSession()
    session.add_all(Item(id=i, label=f"pid {os.getpid()}") for i in ids)
    session.commit()
    return ids


@peekTask
def echo_tuple(item: ItemTuple) -> ItemTuple:
    """A new tuple built from the argument (which must arrive as an ItemTuple)."""
    if not isinstance(item, ItemTuple):
        raise TypeError(f"expected an ItemTuple, got {type(item).__name__}")
    return ItemTuple(label=item.label.upper(), when=item.when, blob=item.blob[::-1],
                     inner=item, items=[item.inner, len(item.items)])
