"""The server's storage service with the real plugin host: migrate before load, isolate failures."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from twisted.internet.defer import Deferred, maybeDeferred

from peek_platform.config import ServiceConfig
from peek_platform.errors import SchemaMigrationError
from peek_platform.plugin.host import PluginHost, PluginState, ServicePluginSpec
from peek_platform.storage.service import StorageService
from peek_platform.storage.tables import SchemaMigrationLog
from peek_platform.web.plugin_site import PluginSiteRoot
from peek_plugin_base.server.PluginServerEntryHookABC import PluginServerEntryHookABC
from peek_server.platform_hook import ServerPlatformHook
from peek_vortex import OwnershipScope
from tests.storage.plugin_factory import CREATE_ITEM, PluginFactory, Revision

FIRST = Revision("0001_item", None, CREATE_ITEM)


def run_now(func: Callable[..., Any], *args: Any) -> "Deferred[Any]":
    """Stands in for deferToThread: runs at once, so the test needs no running reactor."""
    return maybeDeferred(func, *args)


def result_of(deferred: "Deferred[Any]") -> Any:
    """The result of an already fired Deferred (raising its failure)."""
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, "the Deferred did not fire"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


def make_config(home: Path, url: str) -> ServiceConfig:
    """A server config using ``url``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps({"sqlalchemy": {"connectUrl": url}}))
    return ServiceConfig.load("server", home)


def start_server_plugins(
    config: ServiceConfig, names: list[str]
) -> tuple[StorageService, PluginHost]:
    """Start the storage service, then the plugins through a host using its before_load."""
    storage = StorageService(config, run_in_thread=run_now)
    result_of(maybeDeferred(storage.startService))

    def make_hook(host: PluginHost, name: str, log: OwnershipScope) -> ServerPlatformHook:
        sites = {"Admin": PluginSiteRoot("admin"), "Server": PluginSiteRoot("platform")}
        return ServerPlatformHook(host, name, log, config, sites, storage=storage)

    spec = ServicePluginSpec(
        service="server",
        entry_hook_abc=PluginServerEntryHookABC,
        accepted_service_names=frozenset({"server", "storage"}),
        make_platform_hook=make_hook,
        before_load=storage.before_load,
    )
    host = PluginHost(spec)
    result_of(Deferred.fromCoroutine(host.start_plugins(names)))
    return storage, host


def migration_log(storage: StorageService) -> list[tuple[str, str]]:
    """(owner, outcome) of every logged migration."""
    assert storage.platform_db is not None
    session = storage.platform_db.ormSessionCreator()
    try:
        rows = session.execute(
            select(SchemaMigrationLog.owner, SchemaMigrationLog.outcome).order_by(
                SchemaMigrationLog.id
            )
        )
        return [tuple(row) for row in rows]
    finally:
        session.close()


def test_failing_plugin_migration_is_isolated(
    db_url: str, plugins: PluginFactory, tmp_path: Path
) -> None:
    """A plugin whose migration fails is failed with the reason; the other plugin runs."""
    plugins.write("peek_plugin_good", [FIRST])
    plugins.write("peek_plugin_bad", [FIRST])
    config = make_config(tmp_path / "home", db_url)
    storage, host = start_server_plugins(config, ["peek_plugin_bad", "peek_plugin_good"])
    try:
        good, bad = host.records["peek_plugin_good"], host.records["peek_plugin_bad"]
        assert good.state is PluginState.RUNNING
        assert good.entry_hook is not None
        session = good.entry_hook.dbSessionCreator()
        item = plugins.module("peek_plugin_good").Item
        session.add(item(name="x"))
        session.commit()
        assert session.scalars(select(item.name)).all() == ["x"]
        session.close()
        assert bad.state is PluginState.RUNNING
        assert migration_log(storage) == [
            ("peek_platform", "created"),
            ("peek_plugin_bad", "created"),
            ("peek_plugin_good", "created"),
        ]
    finally:
        result_of(Deferred.fromCoroutine(host.stop_all()))
        result_of(maybeDeferred(storage.stopService))

    # Now code with a failing second revision: bad fails with the reason, good carries on.
    plugins.write(
        "peek_plugin_bad",
        [FIRST, Revision("0002_bad", "0001_item", "raise ValueError('bad 0002')")],
    )
    storage, host = start_server_plugins(config, ["peek_plugin_bad", "peek_plugin_good"])
    try:
        bad = host.records["peek_plugin_bad"]
        assert host.records["peek_plugin_good"].state is PluginState.RUNNING
        assert bad.state is PluginState.FAILED
        assert "bad 0002" in (bad.reason or "") and "rolled back" in (bad.reason or "")
        assert migration_log(storage)[-1] == ("peek_plugin_bad", "failed")
    finally:
        result_of(Deferred.fromCoroutine(host.stop_all()))
        result_of(maybeDeferred(storage.stopService))


def test_restart_does_not_migrate_again(
    db_url: str, plugins: PluginFactory, tmp_path: Path
) -> None:
    """A second start on an up-to-date database logs no migration."""
    plugins.write("peek_plugin_good", [FIRST])
    config = make_config(tmp_path / "home", db_url)
    for _attempt in range(2):
        storage, host = start_server_plugins(config, ["peek_plugin_good"])
        try:
            assert host.records["peek_plugin_good"].state is PluginState.RUNNING
            log = migration_log(storage)
        finally:
            result_of(Deferred.fromCoroutine(host.stop_all()))
            result_of(maybeDeferred(storage.stopService))
    assert log == [("peek_platform", "created"), ("peek_plugin_good", "created")]


@pytest.mark.parametrize(
    ("declare_storage", "storage_hook", "expected"),
    [
        (True, False, "does not subclass PluginServerStorageEntryHookABC"),
        (False, True, 'no "storage"'),
    ],
)
def test_storage_declaration_must_match_the_hook(
    sqlite_url: str,
    plugins: PluginFactory,
    tmp_path: Path,
    declare_storage: bool,
    storage_hook: bool,
    expected: str,
) -> None:
    """plugin_package.json's storage section and the storage ABC go together, or it fails."""
    plugins.write(
        "peek_plugin_odd", [FIRST], declare_storage=declare_storage, storage_hook=storage_hook
    )
    storage, host = start_server_plugins(
        make_config(tmp_path / "home", sqlite_url), ["peek_plugin_odd"]
    )
    try:
        record = host.records["peek_plugin_odd"]
        assert record.state is PluginState.FAILED
        assert expected in (record.reason or "")
    finally:
        result_of(maybeDeferred(storage.stopService))


def test_plugin_name_decides_the_schema(
    sqlite_url: str, plugins: PluginFactory, tmp_path: Path
) -> None:
    """A storage plugin not named peek_plugin_<x> / peek_core_<x> is refused."""
    plugins.write("other_plugin", [FIRST], schema="pl_other")
    storage, host = start_server_plugins(
        make_config(tmp_path / "home", sqlite_url), ["other_plugin"]
    )
    try:
        record = host.records["other_plugin"]
        assert record.state is PluginState.FAILED
        assert "peek_plugin_<name>" in (record.reason or "")
    finally:
        result_of(maybeDeferred(storage.stopService))


def test_platform_schema_newer_than_code_stops_the_start(db_url: str, tmp_path: Path) -> None:
    """A platform schema migrated by newer code fails the storage service's start, clearly."""
    config = make_config(tmp_path / "home", db_url)
    storage = StorageService(config, run_in_thread=run_now)
    result_of(maybeDeferred(storage.startService))
    assert storage.platform_db is not None
    with storage.platform_db.dbEngine.begin() as connection:
        connection.execute(
            text('UPDATE "peek_platform".alembic_version SET version_num = :v'),
            {"v": "9999_future"},
        )
    result_of(maybeDeferred(storage.stopService))

    storage = StorageService(config, run_in_thread=run_now)
    with pytest.raises(SchemaMigrationError, match="9999_future.*newer"):
        result_of(maybeDeferred(storage.startService))
    assert storage.platform_db is None
