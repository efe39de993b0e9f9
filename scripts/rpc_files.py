"""Count the project source files one RPC round trip runs code in, over a real websocket.

Usage: .venv/bin/python scripts/rpc_files.py [--verbose]

Two routers, each behind its bridge, joined by a real websocket on 127.0.0.1 (the server's
bus listener and a client service, both in this process). After a warm-up call, one more
call of a ``@vortexRPC`` is traced with ``sys.setprofile``: every Python function that runs
from the call until its Deferred fires, on both ends, is recorded, and the files under
``platform/``, ``plugin_base/`` and ``services/`` that they belong to are counted (the
caller's and the answerer's code are the same files, so each is counted once). The RPC runs
on the reactor thread (no ``deferToThread``), as a plain call does.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from twisted.internet import defer, reactor, task

from peek_vortex.handlers import vortexRPC
from peek_vortex.routing import PayloadRouter
from peek_vortex.transport import (
    AccessPolicy,
    Backoff,
    TransportLimits,
    VortexBridge,
    VortexClientService,
    VortexServer,
)

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tuple(str(ROOT / part) for part in ("platform", "plugin_base", "services"))
TOKEN = "rpc-files-token"


def _add(a: int, b: int) -> int:
    """The traced RPC."""
    return a + b


# An RPC's name is its module and function; this script runs as __main__, so name it here.
_add.__module__ = "rpc_files"
add = vortexRPC("peek-server", additionalFilt={"key": "rpcfiles.add"})(_add)


async def main(verbose: bool) -> int:
    server_router, agent_router = PayloadRouter(), PayloadRouter()
    server = VortexServer("peek-server", AccessPolicy.for_server(lambda: TOKEN),
                          TransportLimits())
    server.handler = VortexBridge(server_router, "peek-server")
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    root = Resource()
    root.putChild(b"vortexws", server.resource())
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    url = f"ws://127.0.0.1:{port.getHost().port}/vortexws"
    client = VortexClientService("vortex", url, "peek-agent", lambda: TOKEN,
                                 handler=VortexBridge(agent_router, "peek-agent"),
                                 backoff=Backoff(initial=0.05, maximum=0.2))
    client.startService()
    await client.when_connected()
    handle = add.start(router=server_router)
    assert await add.via(agent_router)(1, 2) == 3  # warm-up: imports, first-use caches

    calls: Counter[str] = Counter()
    functions: dict[str, Counter[str]] = {}

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(PROJECT):
                relative = str(Path(name).relative_to(ROOT))
                calls[relative] += 1
                functions.setdefault(relative, Counter())[frame.f_code.co_qualname] += 1

    done = add.via(agent_router)
    sys.setprofile(profile)
    try:
        result = await done(20, 22)
    finally:
        sys.setprofile(None)
    assert result == 42
    handle.shutdown()
    await client.stopService()
    await port.stopListening()
    print(f"RESULT rpc_files: one RPC round trip ran code in {len(calls)} project files")
    for name, count in sorted(calls.items()):
        if verbose:
            print(f"  {count:4d} calls  {name}: " + ", ".join(
                f"{function} x{n}" if n > 1 else function
                for function, n in sorted(functions[name].items())))
    return 0


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list the files and call counts")
    args = parser.parse_args()
    code: list[int] = []

    async def go() -> None:
        code.append(await main(args.verbose))

    task.react(lambda _r: defer.ensureDeferred(go()))


if __name__ == "__main__":
    run()
