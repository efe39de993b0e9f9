"""The embedded broker: a kombu transport on one SQLite file shared by server and worker.

Messages are rows of ``peek_message``; the payload is kombu's JSON encoding of the
message (never pickle). An unacknowledged delivery is reserved for the visibility timeout
(transport option ``visibility_timeout``), a lease its worker renews while it lives
(:mod:`peek_platform.celery_glue.leases`), so a late-ack task whose worker is killed runs
again on another worker one lease later.

Fanout exchanges (Celery's control broadcasts such as ``revoke``) work across processes:
bindings are rows of ``peek_binding(exchange, queue)`` and a fanout message is copied to
every bound queue. Topic exchanges (task events) do not, so the transport reports the
driver type ``sql``, which makes Celery leave task events off on it.

The broker URL is ``peeksqlite://localhost/`` with the file in the transport option ``sqlite_path``.
"""

import sqlite3
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import virtual
from kombu.utils.json import dumps, loads

from peek_platform.celery_glue.sqlite_store import SqliteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS peek_message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- NULL: waiting; else the Unix time when an unacknowledged delivery expires.
    reserved_until REAL
);
CREATE INDEX IF NOT EXISTS peek_message_queue ON peek_message (queue, id);
CREATE TABLE IF NOT EXISTS peek_binding (
    exchange TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, queue)
);
"""

_files: dict[str, SqliteFile] = {}


def _file(path: str) -> SqliteFile:
    if path not in _files:
        _files[path] = SqliteFile(Path(path), SCHEMA)
    return _files[path]


class Channel(virtual.Channel):
    """A kombu virtual channel whose queues live in the SQLite file.

    A row of ``peek_message`` holds one message: ``queue`` its queue name and ``payload``
    kombu's message dict as JSON (``{"body": <base64 of the JSON task body>,
    "content-type": "application/json", "headers": {...}, "properties": {...}}``). Rows
    are consumed in ``id`` order per queue.

    Delivery works like the Redis transport's: taking a message reserves its row for the
    visibility timeout; acknowledging deletes it, rejecting with requeue or a clean close
    releases it, :meth:`renew_reservations` extends the reservations, and a consumer that
    dies leaves it to reappear when the reservation expires. Queues consumed without
    acknowledgements delete the row when taking it.
    """

    supports_fanout = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: dict[str, int] = {}
        # Held while a row leaves ``_rows`` and is released or deleted, so the lease keeper
        # thread never renews a reservation the consumer has just given up.
        self._rows_lock = threading.Lock()
        self._no_ack_queues: set[str] = set()

    @property
    def _db(self) -> sqlite3.Connection:
        path = self.connection.client.transport_options.get("sqlite_path")
        if not path:
            raise ValueError("the peeksqlite transport needs the transport option sqlite_path")
        return _file(path).connection()

    @property
    def _visibility_timeout(self) -> float:
        return float(self.connection.client.transport_options.get("visibility_timeout", 3600))

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self._db  # noqa: B018 - opening creates the file and schema early

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        self._db.execute(
            "INSERT INTO peek_message (queue, payload) VALUES (?, ?)", (queue, dumps(message))
        )

    def _get(self, queue: str, timeout: Any = None) -> dict[str, Any]:
        now = time.time()
        if queue in self._no_ack_queues:
            row = self._db.execute(
                "DELETE FROM peek_message WHERE id = (SELECT id FROM peek_message"
                " WHERE queue = ? AND (reserved_until IS NULL OR reserved_until < ?)"
                " ORDER BY id LIMIT 1) RETURNING id, payload",
                (queue, now),
            ).fetchone()
        else:
            row = self._db.execute(
                "UPDATE peek_message SET reserved_until = ? WHERE id = (SELECT id FROM"
                " peek_message WHERE queue = ? AND (reserved_until IS NULL OR"
                " reserved_until < ?) ORDER BY id LIMIT 1) RETURNING id, payload",
                (now + self._visibility_timeout, queue, now),
            ).fetchone()
        if row is None:
            raise Empty()
        message = loads(row[1])
        if queue not in self._no_ack_queues:
            self._rows[message["properties"]["delivery_tag"]] = row[0]
        return message

    def _forget_row(self, delivery_tag: str) -> None:
        with self._rows_lock:
            row_id = self._rows.pop(delivery_tag, None)
            if row_id is not None:
                self._db.execute("DELETE FROM peek_message WHERE id = ?", (row_id,))

    def renew_reservations(self, lease_seconds: float) -> int:
        """Reserve every row this channel holds for ``lease_seconds`` from now (any thread).

        Returns the number of rows renewed.
        """
        with self._rows_lock:
            row_ids = list(self._rows.values())
            if not row_ids:
                return 0
            until = time.time() + lease_seconds
            renewed = 0
            for start in range(0, len(row_ids), 500):
                chunk = row_ids[start:start + 500]
                renewed += self._db.execute(
                    "UPDATE peek_message SET reserved_until = ? WHERE reserved_until IS NOT"
                    f" NULL AND id IN ({','.join('?' * len(chunk))})", (until, *chunk),
                ).rowcount
            return renewed

    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        message = super().basic_get(queue, no_ack, **kwargs)
        if message is not None and no_ack:
            self._forget_row(message.delivery_tag)
        return message

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._forget_row(delivery_tag)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)  # requeue goes through _restore
        self._forget_row(delivery_tag)

    def _restore(self, message: Any) -> None:
        with self._rows_lock:
            row_id = self._rows.pop(message.delivery_tag, None)
            if row_id is not None:
                self._db.execute("UPDATE peek_message SET reserved_until = NULL WHERE id = ?",
                                 (row_id,))
                return
        super()._restore(message)

    def _purge(self, queue: str) -> int:
        return self._db.execute("DELETE FROM peek_message WHERE queue = ?", (queue,)).rowcount

    def _size(self, queue: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM peek_message WHERE queue = ?", (queue,)
        ).fetchone()[0]

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self._purge(queue)
        self._db.execute("DELETE FROM peek_binding WHERE queue = ?", (queue,))

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        if self.typeof(exchange).type == "fanout":
            self._db.execute(
                "INSERT OR IGNORE INTO peek_binding (exchange, queue) VALUES (?, ?)",
                (exchange, queue),
            )

    def _put_fanout(self, exchange: str, message: dict[str, Any], routing_key: str,
                    **kwargs: Any) -> None:
        self._db.execute(
            "INSERT INTO peek_message (queue, payload) "
            "SELECT queue, ? FROM peek_binding WHERE exchange = ?",
            (dumps(message), exchange),
        )


class Transport(virtual.Transport):
    """The embedded SQLite broker transport (alias ``peeksqlite``).

    It runs in Celery's event loop: a repeating timer drains ready messages, so the worker
    uses its non-blocking prefork pool and keeps reading control messages (revoke) while
    its pool is busy, exactly as with Redis.
    """

    Channel = Channel
    #: Seconds between polls of an empty queue; ``polling_interval`` overrides it.
    polling_interval = 0.01
    #: Seconds between polls while the prefetch limit is reached.
    busy_polling_interval = 0.001
    #: Most messages handed over per poll, so one poll cannot starve the event loop.
    max_per_poll = 100
    default_port = 0
    connection_errors = (sqlite3.OperationalError,)
    channel_errors = (sqlite3.OperationalError,)
    # "sql" makes Celery's event dispatcher stay off: topic routing is per process here.
    driver_type = "sql"
    driver_name = "sqlite3"
    implements = virtual.Transport.implements.extend(
        asynchronous=True, exchange_type=frozenset(["direct", "topic", "fanout"])
    )

    def driver_version(self) -> str:
        return sqlite3.sqlite_version

    _busy_polls = 0

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        loop.call_soon(self._drain_ready, connection, loop)

    def _drain_ready(self, connection: Any, loop: Any) -> None:
        """Deliver the messages that are ready now, then schedule the next poll.

        Polls again at once after delivering, soon when the prefetch limit held messages
        back (a pool process frees a slot within a task's time; backing off while it does
        not), else after the interval.
        """
        delivered = 0
        for _ in range(self.max_per_poll):
            try:
                self.cycle.get(self._deliver, timeout=0)
            except Empty:
                break
            delivered += 1
        if delivered:
            delay, self._busy_polls = 0.0, 0
        elif any(ch._consumers and not ch.qos.can_consume() for ch in self.channels):
            # Back off while the pool stays busy (long tasks), up to the normal interval.
            delay = min(self.polling_interval, self.busy_polling_interval * 2 ** self._busy_polls)
            self._busy_polls += 1
        else:
            delay, self._busy_polls = self.polling_interval, 0
        loop.call_later(delay, self._drain_ready, connection, loop)
