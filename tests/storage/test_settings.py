"""The settings helper: typed keys with defaults, read and written in the plugin's schema."""

import pytest
from sqlalchemy import Column, Integer, MetaData, select
from sqlalchemy.orm import declarative_base

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.engine_factory import make_engine
from peek_plugin_base.storage.PluginSettings import PropertyKey, declareSettingTables
from peek_plugin_base.storage.StorageErrors import SettingError


@pytest.fixture
def settings_db(db_url: str, tmp_path):  # noqa: ANN001, ANN201 - yields a small namespace
    """A plugin-like schema holding the Setting tables, created with create_all."""
    metadata = MetaData(schema="pl_settings")
    base = declarative_base(metadata=metadata)

    class Other(base):  # a plugin table beside the settings
        __tablename__ = "Other"
        id = Column(Integer, primary_key=True)

    tables = declareSettingTables(base)
    properties: dict[str, PropertyKey] = {}
    keys = {
        "name": PropertyKey("Name", "peek", propertyDict=properties),
        "count": PropertyKey("Count", 3, propertyDict=properties),
        "ratio": PropertyKey("Ratio", 0.5, propertyDict=properties),
        "on": PropertyKey("Enabled", False, propertyDict=properties),
    }
    connection = DbConnection(db_url, metadata, str(tmp_path))
    engine = connection.dbEngine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("CREATE SCHEMA pl_settings")
        metadata.create_all(conn)

    def global_setting(session, key=None, value=None):  # noqa: ANN001, ANN202
        return tables.getSetting(session, "Global", properties, key, value)

    yield connection, tables, keys, global_setting
    connection.closeAllSessions()


def test_defaults_then_typed_updates_persist(settings_db) -> None:  # noqa: ANN001
    """Missing rows take the defaults; set values survive a new session, with their types."""
    connection, tables, keys, global_setting = settings_db
    session = connection.ormSessionCreator()
    assert global_setting(session) == {"Name": "peek", "Count": 3, "Ratio": 0.5, "Enabled": False}
    global_setting(session, keys["name"], "tutorial")
    global_setting(session, "Count", 7)
    global_setting(session, keys["ratio"], 2)  # an int is fine for a float key
    global_setting(session, keys["on"], True)
    session.commit()
    connection.ormSessionCreator.remove()

    session = connection.ormSessionCreator()
    assert global_setting(session, keys["name"]) == "tutorial"
    assert global_setting(session) == {
        "Name": "tutorial",
        "Count": 7,
        "Ratio": 2.0,
        "Enabled": True,
    }
    assert session.scalars(select(tables.Setting.name)).all() == ["Global"]
    assert len(session.scalars(select(tables.SettingProperty)).all()) == 4
    session.close()


def test_wrong_types_and_unknown_keys_are_refused(settings_db) -> None:  # noqa: ANN001
    """A value of another type, or an undeclared key, raises SettingError and changes nothing."""
    connection, _tables, keys, global_setting = settings_db
    session = connection.ormSessionCreator()
    with pytest.raises(SettingError, match="holds int values, got str"):
        global_setting(session, keys["count"], "7")
    with pytest.raises(SettingError, match="holds bool values, got int"):
        global_setting(session, keys["on"], 1)
    with pytest.raises(SettingError, match="no key 'Missing'"):
        global_setting(session, "Missing")
    assert global_setting(session, keys["count"]) == 3
    session.close()


def test_settings_live_in_the_plugins_schema(settings_db, db_url: str) -> None:  # noqa: ANN001
    """The Setting tables are created in the plugin's schema, beside its other tables."""
    connection, _tables, _keys, _global_setting = settings_db
    from sqlalchemy import inspect

    engine = make_engine(db_url, ["pl_settings"])
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names(schema="pl_settings"))
    finally:
        engine.dispose()
    assert names == {"Other", "Setting", "SettingProperty"}


def test_a_key_is_declared_once() -> None:
    """Declaring the same key twice in one dict is an error (it would hide a typo)."""
    properties: dict[str, PropertyKey] = {}
    PropertyKey("A", 1, propertyDict=properties)
    with pytest.raises(SettingError, match="declared twice"):
        PropertyKey("A", 2, propertyDict=properties)
