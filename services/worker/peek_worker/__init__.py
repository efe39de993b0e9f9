"""The Peek worker service: a Celery worker that runs the enabled plugins' tasks."""
