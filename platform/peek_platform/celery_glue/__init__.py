"""Celery glue shared by the server (task caller) and the worker (task runner).

``settings`` reads the ``celery.*`` keys, ``app_config`` configures the process's one
Celery app (JSON only; ``tuple_json`` carries bus tuples inside it), ``sqlite_transport``
and ``backends`` are the embedded broker and result backend, ``caller`` queues tasks and
returns Deferreds, ``caller_service`` runs the caller inside a Twisted service tree (it
serves the contract's ``deferTask``), ``consumer`` is the worker's message consumer,
``worker_db`` the worker's per-process task database (it serves the contract's
``CeleryDbConn``).
"""
