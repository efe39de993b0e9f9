"""The plugin contract for the worker service: entry hook, Celery app, task helpers.

``CeleryApp`` holds the process's one Celery app and ``peekTask``; ``DeferTask`` has
``deferTask`` for the server side; ``CeleryDbConn`` gives tasks the database (one engine
per worker process); ``errors`` the errors a queued task or its database access can fail
with.
"""
