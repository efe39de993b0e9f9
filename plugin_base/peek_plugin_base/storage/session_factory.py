"""ORM sessions that warn when used on the Twisted reactor thread.

Database calls block; on the reactor thread they stall every connection of the service.
A session that begins a transaction or executes a statement there logs a warning with the
caller's stack, once per call site so a loop does not flood the log.
"""

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from twisted.python import threadable

logger = logging.getLogger(__name__)

#: Call sites already warned about (bounded so a long-running service cannot grow it).
_WARNED_LIMIT = 1000
_warned: set[tuple[str, int]] = set()
_warned_lock = threading.Lock()


def _caller_site(stack: list[traceback.FrameSummary]) -> tuple[str, int]:
    for frame in reversed(stack):
        # SQLAlchemy's own frames (and the code it generates) are not the caller.
        name = frame.filename
        if name.startswith("<") or "/sqlalchemy/" in name or "/peek_plugin_base/storage/" in name:
            continue
        return frame.filename, frame.lineno or 0
    return "?", 0


def _warn_if_reactor_thread() -> None:
    if not threadable.isInIOThread():
        return
    stack = traceback.extract_stack()[:-2]
    site = _caller_site(stack)
    with _warned_lock:
        if site in _warned:
            return
        if len(_warned) < _WARNED_LIMIT:
            _warned.add(site)
    logger.warning(
        "ORM session used on the reactor thread (%s:%d); database calls block every "
        "connection - run them in a thread (deferToThreadWrap). Caller's stack:\n%s",
        site[0],
        site[1],
        "".join(traceback.format_list(stack)),
    )


def forget_warned_sites() -> None:
    """Warn again for call sites already reported (for tests)."""
    with _warned_lock:
        _warned.clear()


def make_session_creator(engine: Engine) -> Callable[[], Session]:
    """A thread-scoped session factory whose sessions warn on the reactor thread."""

    class ReactorCheckedSession(Session):
        """A Session of one DbConnection; see the module docstring."""

    def on_begin(_session: Any, _transaction: Any, _connection: Any) -> None:
        _warn_if_reactor_thread()

    def on_execute(_state: Any) -> None:
        _warn_if_reactor_thread()

    event.listen(ReactorCheckedSession, "after_begin", on_begin)
    event.listen(ReactorCheckedSession, "do_orm_execute", on_execute)
    return scoped_session(sessionmaker(bind=engine, class_=ReactorCheckedSession))
