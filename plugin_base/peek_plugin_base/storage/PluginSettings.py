"""Typed settings stored in a plugin's own schema (the Setting / SettingProperty tables).

A plugin declares the two tables on its DeclarativeBase, its keys with their defaults, and
a ``globalSetting`` function::

    tables = declareSettingTables(DeclarativeBase)
    Setting, SettingProperty = tables.Setting, tables.SettingProperty
    globalProperties: dict[str, PropertyKey] = {}
    PROPERTY1 = PropertyKey("Property1", "default", propertyDict=globalProperties)

    def globalSetting(session, key=None, value=None):
        return tables.getSetting(session, "Global", globalProperties, key, value)

``globalSetting(session)`` returns every value as a dict, ``globalSetting(session, key)``
one value, and ``globalSetting(session, key, value)`` sets one (the caller commits).
Missing rows are created with the key's default. A key's type is its default's type
(bool, int, float or str) and a value of another type is refused.
"""

import logging
from dataclasses import dataclass
from typing import Any, Optional, Union

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from peek_plugin_base.storage.StorageErrors import SettingError

logger = logging.getLogger(__name__)

SettingValue = Union[bool, int, float, str]

#: Each property type and the column holding its value.
_VALUE_COLUMNS: dict[type, tuple[str, str]] = {
    bool: ("bool", "boolean_value"),
    int: ("int", "int_value"),
    float: ("float", "float_value"),
    str: ("str", "char_value"),
}


class PropertyKey:
    """A declared setting: its name, its default and (from the default) its type."""

    def __init__(
        self,
        name: str,
        defaultValue: SettingValue,
        propertyDict: Optional[dict[str, "PropertyKey"]] = None,
    ) -> None:
        if type(defaultValue) not in _VALUE_COLUMNS:
            raise SettingError(
                None, f"setting {name!r}: the default must be bool, int, float or str"
            )
        self.name = name
        self.defaultValue = defaultValue
        self.valueType: type = type(defaultValue)
        if propertyDict is not None:
            if name in propertyDict:
                raise SettingError(None, f"setting {name!r} is declared twice")
            propertyDict[name] = self

    @property
    def typeName(self) -> str:
        """The name stored in the ``type`` column."""
        return _VALUE_COLUMNS[self.valueType][0]

    def check(self, value: Any) -> SettingValue:
        """The value if it has this key's type (an int is accepted for a float key)."""
        if type(value) is self.valueType:
            return value
        if self.valueType is float and type(value) is int:
            return float(value)
        raise SettingError(
            None,
            f"setting {self.name!r} holds {self.valueType.__name__} values, "
            f"got {type(value).__name__} {value!r}",
        )

    def __repr__(self) -> str:
        return f"PropertyKey({self.name!r}, {self.defaultValue!r})"


@dataclass(frozen=True)
class SettingTables:
    """The two mapped classes of one plugin, and the function that reads and writes them."""

    Setting: type
    SettingProperty: type

    def getSetting(
        self,
        session: Session,
        settingName: str,
        propertyDict: dict[str, PropertyKey],
        key: Union[PropertyKey, str, None] = None,
        value: Optional[SettingValue] = None,
    ) -> Any:
        """All values (no key), one value (key), or set one value (key and value)."""
        rows = self._loadRows(session, settingName, propertyDict)
        if key is None:
            if value is not None:
                raise SettingError(None, "a value was given without a key")
            return {name: _rowValue(rows[name]) for name in propertyDict}
        name = key.name if isinstance(key, PropertyKey) else key
        declared = propertyDict.get(name)
        if declared is None:
            raise SettingError(
                None, f"setting {settingName!r} has no key {name!r} "
                f"(declared: {', '.join(sorted(propertyDict)) or 'none'})"
            )
        row = rows[name]
        if value is None:
            return _rowValue(row)
        _setRowValue(row, declared, declared.check(value))
        return None

    def _loadRows(
        self, session: Session, settingName: str, propertyDict: dict[str, PropertyKey]
    ) -> dict[str, Any]:
        setting_class, property_class = self.Setting, self.SettingProperty
        setting = session.scalars(
            select(setting_class).where(setting_class.name == settingName)
        ).one_or_none()
        if setting is None:
            setting = setting_class(name=settingName)
            session.add(setting)
            session.flush()
        rows = {
            row.key: row
            for row in session.scalars(
                select(property_class).where(property_class.settingId == setting.id)
            )
        }
        for name, declared in propertyDict.items():
            row = rows.get(name)
            if row is None:
                row = property_class(settingId=setting.id, key=name)
                session.add(row)
                rows[name] = row
                _setRowValue(row, declared, declared.defaultValue)
            elif row.type != declared.typeName:
                logger.warning(
                    "Setting %s.%s was stored as %s but is now declared %s; "
                    "it is reset to its default",
                    settingName, name, row.type, declared.typeName,
                )
                _setRowValue(row, declared, declared.defaultValue)
        return rows


def _rowValue(row: Any) -> SettingValue:
    for type_name, column_name in _VALUE_COLUMNS.values():
        if row.type == type_name:
            return getattr(row, column_name)
    raise SettingError(None, f"setting {row.key!r} has unknown type {row.type!r}")


def _setRowValue(row: Any, declared: PropertyKey, value: SettingValue) -> None:
    row.type = declared.typeName
    for _type_name, column_name in _VALUE_COLUMNS.values():
        setattr(row, column_name, None)
    setattr(row, _VALUE_COLUMNS[declared.valueType][1], value)


def declareSettingTables(DeclarativeBase: Any) -> SettingTables:
    """Declare ``Setting`` and ``SettingProperty`` on a plugin's DeclarativeBase.

    The tables land in the base's schema; add them to the plugin's migrations with the
    developer command like any other table.
    """

    class Setting(DeclarativeBase):  # type: ignore[misc, valid-type]
        """A named group of settings ("Global" for a plugin's global settings)."""

        __tablename__ = "Setting"

        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        name: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)

    class SettingProperty(DeclarativeBase):  # type: ignore[misc, valid-type]
        """One typed value of a Setting."""

        __tablename__ = "SettingProperty"
        __table_args__ = (UniqueConstraint("settingId", "key"),)

        id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
        settingId: Mapped[int] = mapped_column(
            Integer, ForeignKey(Setting.id, ondelete="CASCADE"), nullable=False
        )
        key: Mapped[str] = mapped_column(String(50), nullable=False)
        type: Mapped[str] = mapped_column(String(16), nullable=False)
        int_value: Mapped[Optional[int]] = mapped_column(Integer)
        float_value: Mapped[Optional[float]] = mapped_column(Float)
        char_value: Mapped[Optional[str]] = mapped_column(String)
        boolean_value: Mapped[Optional[bool]] = mapped_column(Boolean)

    return SettingTables(Setting=Setting, SettingProperty=SettingProperty)
