"""An admin-side tool process: edits the tutorial's StringInt table through its tuple loader.

It joins the server's platform site as a service connection (with the platform token), as
the admin site's tuple loader does, and sends load / save / delete requests to the tutorial's
OrmCrudHandler; the handler commits and notifies the observable, exactly as an admin edit
does. It prints the resulting rows as JSON (one line) and exits.

    python -m tests.browser.admin_tool PORT TOKEN_FILE load
    python -m tests.browser.admin_tool PORT TOKEN_FILE save '[{"string1": "a", "int1": 1}]'
    python -m tests.browser.admin_tool PORT TOKEN_FILE delete ID
"""

import json
import sys
from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred

from peek_plugin_base.PeekVortexUtil import peekClientName
from peek_plugin_base.storage import TupleLoaderClient

TIMEOUT = 30.0


def rows_json(rows: list[Any]) -> str:
    """The rows as a JSON list of {id, string1, int1}."""
    return json.dumps([{"id": r.id, "string1": r.string1, "int1": r.int1} for r in rows])


async def run(port: int, token_file: Path, command: str, argument: str) -> None:
    # Imported here: the tutorial's tuples register with the bus on import.
    from peek_plugin_tutorial._private.server.admin_backend.StringIntTableHandler import (
        filtKey,
    )
    from peek_plugin_tutorial._private.storage.StringIntTuple import StringIntTuple

    from tests.e2e.devices_data import VortexPeer

    token = token_file.read_text(encoding="ascii").strip()
    peer = VortexPeer(port, peekClientName, token)
    await peer.connect()
    try:
        loader = TupleLoaderClient(filtKey, router=peer.router, timeoutSeconds=TIMEOUT)
        if command == "load":
            rows = await loader.load()
        elif command == "save":
            rows = await loader.save([StringIntTuple(**values) for values in json.loads(argument)])
        elif command == "delete":
            rows = await loader.delete(id=int(argument))
        else:
            raise SystemExit(f"admin_tool: unknown command {command!r} (load, save, delete)")
        print(rows_json(rows), flush=True)
    finally:
        await peer.close()


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        raise SystemExit(__doc__)
    port, token_file, command = int(argv[0]), Path(argv[1]), argv[2]
    argument = argv[3] if len(argv) > 3 else ""

    def go(_reactor: Any) -> "Deferred[None]":
        return Deferred.fromCoroutine(run(port, token_file, command, argument))

    task.react(go)


if __name__ == "__main__":
    main(sys.argv[1:])
