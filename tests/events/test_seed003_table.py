"""The seed 003 (LUNA) porting table of the plugin developer guide names only things that exist."""

import re

import pytest

from tests.tutorial_api.test_porting_table import GUIDE, resolve

START, END = "<!-- seed003-table:start -->", "<!-- seed003-table:end -->"


def our_names() -> list[str]:
    """The dotted names in the table's middle column."""
    text = GUIDE.read_text()
    assert text.count(START) == 1 and text.count(END) == 1, "seed 003 table markers missing"
    lines = text.split(START, 1)[1].split(END, 1)[0].strip().splitlines()[2:]
    names = []
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a table row needs 3 cells: {line!r}"
        names += [n for n in re.findall(r"`([^`]+)`", cells[1]) if n.startswith("peek_")]
    return names


def test_table_lists_the_seed_adapters() -> None:
    """The table covers the seed's plugin classes, route helper and monitoring point."""
    names = our_names()
    for required in ("BaseEventPlugin", "BaseBackgroundPlugin", "pluginHTTPResponse",
                     "addRoute", "MonitoringPoint", "handleEvent"):
        assert any(n.endswith(required) for n in names), required


@pytest.mark.parametrize("name", our_names())
def test_every_name_in_the_table_imports(name: str) -> None:
    """Each name on our side of the table resolves to a real object."""
    assert resolve(name) is not None
