"""One queue per plugin: a worker takes only the tasks of the plugins it runs.

A task named ``peek_plugin_x.…`` (every ``peekTask`` name starts with its plugin's package)
is sent to the queue ``<celery.taskQueue>.peek_plugin_x``, and a worker consumes the queues
of the plugins it runs, plus ``<celery.taskQueue>`` itself (tasks whose name has no
package part, and messages queued by an earlier version). So a worker without a plugin
leaves that plugin's tasks queued for a worker that has it, instead of taking them and
discarding them as unregistered. All queues are bound to the one exchange
``<celery.taskQueue>`` with their own name as routing key, the same on every broker.
"""

from typing import Any, Optional

from kombu import Exchange, Queue


def task_plugin(task_name: str) -> Optional[str]:
    """The plugin package a task belongs to (its name's first part), or None."""
    package, dot, _ = task_name.partition(".")
    return package if dot and package.isidentifier() else None


def plugin_queue(task_queue: str, plugin: str) -> Queue:
    """The queue carrying ``plugin``'s tasks."""
    name = f"{task_queue}.{plugin}"
    return Queue(name, Exchange(task_queue, type="direct"), routing_key=name)


class PluginRouter:
    """A Celery router (``task_routes``) sending each task to its plugin's queue."""

    def __init__(self, task_queue: str) -> None:
        self.task_queue = task_queue

    def __call__(self, name: str, args: Any, kwargs: Any, options: Any,
                 task: Any = None, **_: Any) -> Optional[dict[str, Any]]:
        plugin = task_plugin(name)
        if plugin is None:
            return None  # the default queue
        return {"queue": plugin_queue(self.task_queue, plugin)}


def worker_queues(task_queue: str, plugins: list[str]) -> list[Queue]:
    """The queues a worker running ``plugins`` consumes: theirs and the default one."""
    default = Queue(task_queue, Exchange(task_queue, type="direct"), routing_key=task_queue)
    return [default] + [plugin_queue(task_queue, p) for p in plugins]
