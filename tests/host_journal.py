"""Entry hooks for fixture plugins that journal every lifecycle call, for the host tests."""

from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.web.resource import Resource

from peek_plugin_base.agent.PluginAgentEntryHookABC import PluginAgentEntryHookABC
from peek_plugin_base.client.PluginClientEntryHookABC import PluginClientEntryHookABC
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_plugin_base.worker.PluginWorkerEntryHookABC import PluginWorkerEntryHookABC
from peek_vortex import record_owned

#: (plugin name, step) in call order, across all fixture plugins.
JOURNAL: list[tuple[str, str]] = []
#: Registrations made by fixture plugins that have not been undone.
LIVE_REGISTRATIONS: set[str] = set()
#: Deferreds returned by plugins whose behaviour is "deferred", keyed by (name, step).
PENDING: dict[tuple[str, str], Deferred[None]] = {}


def make_hooks(name: str, behaviour: dict[str, str]) -> tuple[Any, Any, Any, Any]:
    """The four ``peek<Service>EntryHook`` functions of a fixture plugin.

    ``behaviour`` maps a step (load/start/stop/unload) to: "raise" (raise RuntimeError),
    "fail-deferred" (return a failed Deferred), "deferred" (return a Deferred the test fires
    from PENDING), "async" (an ``async def`` step), or "register" (record a registration,
    then raise), "mount" (mount an admin page, server only), or "mount-then-raise".
    """

    class Hook:
        def _step(self, step: str) -> Any:
            JOURNAL.append((name, step))
            mode = behaviour.get(step)
            if mode == "register":
                key = f"{name}:{step}"
                LIVE_REGISTRATIONS.add(key)
                record_owned(key, lambda: LIVE_REGISTRATIONS.discard(key))
                raise RuntimeError(f"{name} {step} broke after registering")
            if mode == "mount-then-raise":
                self.platform.addAdminResource(b"page", Resource())
                raise RuntimeError(f"{name} {step} broke after mounting")
            if mode == "mount":
                self.platform.addAdminResource(b"page", Resource())
                return None
            if mode == "raise":
                raise RuntimeError(f"{name} {step} broke")
            if mode == "fail-deferred":
                return fail(RuntimeError(f"{name} {step} failed later"))
            if mode == "deferred":
                d: Deferred[None] = Deferred()
                PENDING[(name, step)] = d
                return d
            if mode == "async":
                return self._async_step(step)
            return None

        async def _async_step(self, step: str) -> None:
            JOURNAL.append((name, f"{step}-async-done"))

        def load(self) -> Any:
            return self._step("load")

        def start(self) -> Any:
            return self._step("start")

        def stop(self) -> Any:
            return self._step("stop")

        def unload(self) -> Any:
            return self._step("unload")

        @property
        def publishedServerApi(self) -> Any:
            return f"api of {name}"

        publishedAgentApi = publishedServerApi

    classes = [
        type(f"{abc.__name__}Fixture", (Hook, abc), {})
        for abc in (
            PluginServerEntryHookABC,
            PluginClientEntryHookABC,
            PluginAgentEntryHookABC,
            PluginWorkerEntryHookABC,
        )
    ]
    return tuple((lambda c=c: c) for c in classes)  # type: ignore[return-value]
ROUTER = None
