"""The tutorial's settings: the Setting / SettingProperty tables and ``globalSetting``.

Use it in a thread::

    session = self.dbSessionCreator()
    try:
        everything = globalSetting(session)               # {"Property1": ..., ...}
        value = globalSetting(session, key=PROPERTY1)     # one value
        globalSetting(session, key=PROPERTY1, value="new value 1")
        session.commit()
    finally:
        session.close()
"""

from typing import Any, Optional, Union

from sqlalchemy.orm import Session

from peek_plugin_base.storage.PluginSettings import (
    PropertyKey,
    SettingValue,
    declareSettingTables,
)
from peek_plugin_tutorial._private.storage.DeclarativeBase import DeclarativeBase

_tables = declareSettingTables(DeclarativeBase)
Setting = _tables.Setting
SettingProperty = _tables.SettingProperty

globalProperties: dict[str, PropertyKey] = {}

PROPERTY1 = PropertyKey("Property1", "value1", propertyDict=globalProperties)
PROPERTY2 = PropertyKey("Property2", 0, propertyDict=globalProperties)
PROPERTY3 = PropertyKey("Property3", False, propertyDict=globalProperties)


def globalSetting(
    session: Session,
    key: Union[PropertyKey, str, None] = None,
    value: Optional[SettingValue] = None,
) -> Any:
    """All global settings, one of them (``key``), or set one (``key`` and ``value``)."""
    return _tables.getSetting(session, "Global", globalProperties, key=key, value=value)
