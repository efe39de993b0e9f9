"""``peek_plugin new peek_plugin_<name>``: write a ready plugin distribution to start from.

The distribution has ``setup.py`` (with the ``peek.plugins`` entry point),
``plugin_package.json``, an entry hook per chosen service, a first tuple (``ItemTuple``), an
RPC (``ItemRpc.addItem``, served by the server, called by the agent and by devices through
the client) and an observable (served by the server, proxied by the client, observed by the
agent), a worker task, storage with its first Alembic migration (``--storage``), a static
device page (``--device-ui``: served by the client's mobile and desktop sites) and admin page
(``--admin-ui``: the server's admin site), a README and tests using
``peek_plugin_base.testing.PluginTestHarness``.

Exit codes: 0 written; 2 bad arguments (name, services, an existing destination), with the
reason on stderr.
"""

import argparse
import json
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Optional

SERVICES = ("server", "client", "agent", "worker")
NAME_PATTERN = re.compile(r"peek_plugin_[a-z][a-z0-9_]*")

EXIT_OK = 0
EXIT_USAGE = 2


class ScaffoldError(Exception):
    """The arguments cannot make a plugin; the message says why."""


def _template(name: str) -> str:
    return (resources.files("peek_platform.scaffold") / "templates" / name).read_text()


def check_name(name: str) -> None:
    """Refuse a name that is not ``peek_plugin_<identifier>`` (lower case)."""
    if not NAME_PATTERN.fullmatch(name) or not name.isidentifier():
        raise ScaffoldError(
            f"plugin name {name!r} is not peek_plugin_<identifier> (lower-case letters, "
            "digits and underscores after peek_plugin_, starting with a letter), "
            "e.g. peek_plugin_weather"
        )


def parse_services(text: str) -> list[str]:
    """The comma-separated services, in the platform's order; the server is required."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise ScaffoldError(
            f"unknown service(s) {', '.join(unknown)} in --services; "
            f"choose from {','.join(SERVICES)}"
        )
    if "server" not in names:
        raise ScaffoldError("--services must include server: it serves the plugin's "
                            "observable and RPC")
    return [s for s in SERVICES if s in names]


def write_plugin(
    name: str,
    dest: Path,
    services: list[str],
    storage: bool = False,
    device_ui: bool = False,
    admin_ui: bool = False,
) -> Path:
    """Write the distribution of plugin ``name`` into the new folder ``dest``; returns it."""
    check_name(name)
    if device_ui and "client" not in services:
        raise ScaffoldError("--device-ui needs the client service (it serves device pages)")
    if dest.exists():
        raise ScaffoldError(f"destination {dest} already exists; choose another --dest")
    short = name.removeprefix("peek_plugin_")
    schema = f"pl_{short}"
    title = short.replace("_", " ").title()
    tokens = {
        "__PKG__": name, "__DIST__": name.replace("_", "-"), "__TITLE__": title,
        "__SCHEMA__": schema, "__SERVICES__": ", ".join(services),
        "__SERVICES_TUPLE__": repr(tuple(services)),
        "__STORAGE_NOTE__": " and `storage` (the Alembic folder)" if storage else "",
    }

    files: dict[str, str] = {}

    def add(path: str, template: str, **extra: str) -> None:
        text = _template(template)
        for token, value in {**extra, **tokens}.items():
            text = text.replace(token, value)
        files[path] = text

    pkg = name
    private = f"{pkg}/_private"
    add("setup.py", "setup.py.tmpl")
    add("README.md", "README.md.tmpl")
    add("pytest.ini", "pytest.ini.tmpl")
    files[f"{pkg}/__init__.py"] = _root_init(name, services)
    files[f"{pkg}/plugin_package.json"] = _package_json(name, title, services, storage)
    files[f"{private}/__init__.py"] = '"""Everything other plugins must not import."""\n'
    add(f"{private}/PluginNames.py", "PluginNames.py.tmpl")
    add(f"{private}/ItemRpc.py", "ItemRpc.py.tmpl")
    add(f"{private}/tuples/__init__.py", "tuples_init.py.tmpl")
    add(f"{private}/tuples/ItemTuple.py", "ItemTuple.py.tmpl")
    static = 'str(Path(__file__).parents[1] / "static" / "{0}")'
    path_import = "from pathlib import Path\n"
    for service in services:
        files[f"{private}/{service}/__init__.py"] = f'"""The plugin\'s {service} side."""\n'
    add(f"{private}/server/ItemStore.py",
        "ItemStore_db.py.tmpl" if storage else "ItemStore_memory.py.tmpl")
    add(
        f"{private}/server/ServerEntryHook.py", "ServerEntryHook.py.tmpl",
        __SQLA_IMPORT__="from sqlalchemy import MetaData\n" if storage else "",
        __STORAGE_ABC_IMPORT__=(
            "from peek_plugin_base.server.PluginServerStorageEntryHookABC import (\n"
            "    PluginServerStorageEntryHookABC,\n)\n" if storage else ""
        ),
        __SERVER_BASES__=(
            "PluginServerEntryHookABC, PluginServerStorageEntryHookABC" if storage
            else "PluginServerEntryHookABC"
        ),
        __STORAGE_METHODS__=(
            "\n    @property\n    def dbMetadata(self) -> MetaData:\n"
            "        from " + pkg + "._private.storage.Item import metadata\n\n"
            "        return metadata\n" if storage else ""
        ),
        __STORE__="ItemStore(self.dbSessionCreator)" if storage else "ItemStore()",
        __PATH_IMPORT__=path_import if admin_ui else "",
        __ADMIN_UI__=(
            "        self.platform.addAdminStaticResourceDir(" + static.format("admin") + ")\n"
            if admin_ui else ""
        ),
    )
    if "client" in services:
        add(
            f"{private}/client/ClientEntryHook.py", "ClientEntryHook.py.tmpl",
            __PATH_IMPORT__=path_import if device_ui else "",
            __DEVICE_UI__=(
                "        device = " + static.format("device") + "\n"
                "        self.platform.addMobileStaticResourceDir(device)\n"
                "        self.platform.addDesktopStaticResourceDir(device)\n" if device_ui else ""
            ),
        )
    if "agent" in services:
        add(f"{private}/agent/AgentEntryHook.py", "AgentEntryHook.py.tmpl")
    if "worker" in services:
        add(f"{private}/worker/WorkerEntryHook.py", "WorkerEntryHook.py.tmpl")
        add(f"{private}/worker/tasks.py", "tasks.py.tmpl")
    if storage:
        files[f"{private}/storage/__init__.py"] = '"""The plugin\'s tables."""\n'
        add(f"{private}/storage/Item.py", "Item.py.tmpl")
        add(f"{private}/alembic/env.py", "env.py.tmpl")
        add(f"{private}/alembic/script.py.mako", "script.py.mako.tmpl")
        add(f"{private}/alembic/versions/0001_first_tables.py", "0001_first_tables.py.tmpl")
    if device_ui:
        add(f"{private}/static/device/index.html", "index.html.tmpl", __UI__="device")
    if admin_ui:
        add(f"{private}/static/admin/index.html", "index.html.tmpl", __UI__="admin")
    tests = _template("test_head.py.tmpl")
    for wanted, block in (("client" in services, "test_client.py.tmpl"),
                          ("agent" in services, "test_agent.py.tmpl"),
                          ("worker" in services, "test_worker.py.tmpl"),
                          (device_ui, "test_device_ui.py.tmpl"),
                          (admin_ui, "test_admin_ui.py.tmpl"),
                          (True, "test_start.py.tmpl")):
        if wanted:
            tests += _template(block)
    for token, value in tokens.items():
        tests = tests.replace(token, value)
    # No __init__.py: pytest imports the test module by its (plugin-specific) file name.
    files[f"tests/test_{short}_plugin.py"] = tests

    for path, text in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return dest


def _root_init(name: str, services: list[str]) -> str:
    lines = [
        f'"""The {name} plugin: the root package only says which entry hook runs on each '
        'service."""', "",
    ]
    for service in services:
        hook = f"{service.capitalize()}EntryHook"
        lines += [
            "", f"def peek{hook}() -> type:",
            "    # Imported here so loading the package for one service never imports the "
            "others' code.",
            f"    from {name}._private.{service}.{hook} import {hook}", "",
            f"    return {hook}", "",
        ]
    return "\n".join(lines)


def _package_json(name: str, title: str, services: list[str], storage: bool) -> str:
    config: dict = {
        "plugin": {"title": title, "packageName": name, "version": "0.0.1"},
        "requiresServices": services + (["storage"] if storage else []),
        # Written out so authors see it: true makes the services run the asyncio reactor.
        "asyncio": False,
        **{service: {} for service in services},
    }
    if storage:
        config["storage"] = {"alembicDir": "_private/alembic"}
    return json.dumps(config, indent=4) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    """``peek_plugin new NAME [--services ...] [--storage] [--device-ui] [--admin-ui]
    [--dest DIR]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="peek_plugin",
        description="Plugin developer tools.",
        epilog="exit codes: 0 done; 2 bad arguments (the reason is printed)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser(
        "new", help="write a new plugin distribution",
        description="Write a ready plugin distribution into DEST/<name with dashes>.",
        epilog="exit codes: 0 written; 2 bad name, services or existing destination",
    )
    new.add_argument("name", help="the plugin's package name: peek_plugin_<identifier>")
    new.add_argument("--services", default=",".join(SERVICES),
                     help="comma-separated services it runs on (default: all four; "
                          "server is required)")
    new.add_argument("--storage", action="store_true",
                     help="add a database schema with its first Alembic migration")
    new.add_argument("--device-ui", action="store_true",
                     help="add a static device page served by the client's mobile and "
                          "desktop sites")
    new.add_argument("--admin-ui", action="store_true",
                     help="add a static page served by the server's admin site")
    new.add_argument("--dest", default=".",
                     help="the folder to create the distribution in (default: here)")
    args = parser.parse_args(argv)
    try:
        check_name(args.name)
        services = parse_services(args.services)
        dest = Path(args.dest) / args.name.replace("_", "-")
        write_plugin(args.name, dest, services, args.storage, args.device_ui, args.admin_ui)
    except ScaffoldError as e:
        print(f"peek_plugin new: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Wrote {dest}. Next: pip install -e {dest}; then add {args.name!r} to "
          "plugin.enabled in each service's config.json.")
    return EXIT_OK


def run() -> None:
    """Console entry point of ``peek_plugin``."""
    sys.exit(main())
