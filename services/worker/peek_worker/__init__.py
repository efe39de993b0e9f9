"""The Peek worker service: hosts worker plugins (Celery tasks arrive with the worker issue)."""
