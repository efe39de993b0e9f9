"""The plugin contract for the worker service: entry hook, Celery app, task helpers.

``CeleryApp`` holds the process's one Celery app and ``peekTask``; ``DeferTask`` has
``deferTask`` for the server side; ``errors`` the errors a queued task can fail with.
"""
