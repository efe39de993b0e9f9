"""The server's storage settings: defaults written to config.json, engine args validated."""

import json
from pathlib import Path

import pytest

from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError
from peek_plugin_base.storage.engine_factory import normalise_url, sqlite_schema_file


def test_defaults_are_an_sqlite_file_and_no_engine_args(tmp_path: Path) -> None:
    """A fresh server home gets the SQLite URL in the home and an empty engineArgs object."""
    config = ServiceConfig.load("server", tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())["sqlalchemy"]
    assert written == {
        "connectUrl": f"sqlite:///{tmp_path.as_posix()}/peek.sqlite",
        "engineArgs": {},
    }
    assert config["sqlalchemy.engineArgs"] == {}


def test_engine_args_must_be_keyword_arguments(tmp_path: Path) -> None:
    """engineArgs that is not an object of identifiers is reported with the key."""
    (tmp_path / "config.json").write_text(json.dumps({"sqlalchemy": {"engineArgs": [1]}}))
    with pytest.raises(ConfigValidationError, match="sqlalchemy.engineArgs"):
        ServiceConfig.load("server", tmp_path)


@pytest.mark.parametrize("connect_args", [[1], {"timeout": "30"}, {"timeout": 0},
                                          {"timeout": True}])
def test_lock_timeout_must_be_positive_seconds(tmp_path: Path, connect_args: object) -> None:
    """A connect_args that is not an object, or a lock timeout that is not a positive number
    of seconds, is reported with the key and what is wrong."""
    config = {"sqlalchemy": {"engineArgs": {"connect_args": connect_args}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigValidationError, match="sqlalchemy.engineArgs.*connect_args"):
        ServiceConfig.load("server", tmp_path)


def test_urls_map_to_psycopg_and_schema_files() -> None:
    """Bare PostgreSQL URLs use psycopg 3; SQLite schemas are files beside the main file."""
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert sqlite_schema_file("sqlite:////home/p/peek.sqlite", "pl_x") == (
        "/home/p/peek.pl_x.sqlite"
    )
    assert sqlite_schema_file("sqlite://", "pl_x") == ":memory:"
