"""The porting table of docs/plugin-developer-guide.md names only things that exist."""

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

import peek_plugin_base.vortex

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugin-developer-guide.md"
START, END = "<!-- porting-table:start -->", "<!-- porting-table:end -->"

#: Names provided by branches not merged into this one yet; each is expected to fail to
#: import here (strict: once it imports, the entry must be removed from this set).

#: Seed imports the table must keep covering (the original tutorial uses each of them).
REQUIRED_SEED_NAMES = [
    "vortex.Tuple.Tuple", "vortex.Tuple.TupleField", "vortex.Tuple.addTupleType",
    "vortex.TupleSelector.TupleSelector", "vortex.Payload.Payload",
    "vortex.PayloadEndpoint.PayloadEndpoint", "vortex.TupleAction.TupleActionABC",
    "vortex.handler.TupleDataObservableHandler.TupleDataObservableHandler",
    "vortex.handler.TupleDataObservableHandler.TuplesProviderABC",
    "vortex.handler.TupleDataObservableProxyHandler.TupleDataObservableProxyHandler",
    "vortex.handler.TupleDataObserverClient.TupleDataObserverClient",
    "vortex.handler.TupleActionProcessor.TupleActionProcessor",
    "vortex.handler.TupleActionProcessor.TupleActionProcessorDelegateABC",
    "vortex.handler.TupleActionProcessorProxy.TupleActionProcessorProxy",
    "vortex.rpc.RPC.vortexRPC", "vortex.DeferUtil.deferToThreadWrap",
    "txhttputil.util.DeferUtil.deferToThreadWrap", "txhttputil.util.ModuleUtil.filterModules",
    "vortex.handler.ModelHandler.ModelHandler", "vortex.sqla_orm.OrmCrudHandler.OrmCrudHandler",
    "vortex.sqla_orm.OrmCrudHandler.OrmCrudHandlerExtension",
    "txhttputil.site.BasicResource.BasicResource",
]


def table_rows() -> list[tuple[str, str, str]]:
    """(original, ours, notes) cells of every body row of the porting table."""
    text = GUIDE.read_text()
    assert text.count(START) == 1 and text.count(END) == 1, "porting table markers missing"
    lines = text.split(START, 1)[1].split(END, 1)[0].strip().splitlines()
    rows = []
    for line in lines[2:]:  # after the header and the |---| line
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a porting table row needs 3 cells: {line!r}"
        rows.append((cells[0], cells[1], cells[2]))
    return rows


def names_in(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def our_names() -> list[str]:
    return [name for _, ours, _ in table_rows() for name in names_in(ours)]


def resolve(dotted: str) -> Any:
    """Import the longest importable module prefix of ``dotted``, then get the attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_every_row_names_the_original_and_ours() -> None:
    """Each row has at least one original name and at least one dotted name of ours."""
    rows = table_rows()
    assert len(rows) >= 20
    for original, ours, _ in rows:
        assert names_in(original), f"no original name in {original!r}"
        assert names_in(ours), f"no name of ours in {ours!r}"
        for name in names_in(ours):
            assert re.fullmatch(r"[A-Za-z_][\w.]*", name), f"not a dotted name: {name!r}"


def test_the_table_covers_the_seed_imports() -> None:
    """Every import the original tutorial uses has a row, so the table cannot shrink."""
    originals = {name for original, _, _ in table_rows() for name in names_in(original)}
    missing = [name for name in REQUIRED_SEED_NAMES if name not in originals]
    assert not missing, f"the porting table lost: {missing}"


@pytest.mark.parametrize("name", our_names())
def test_our_name_exists(name: str) -> None:
    """Every name in the table's "ours" column imports."""
    assert resolve(name) is not None


#: Where a name of ours may live: the contract, or a third-party library plugins use anyway.
PLUGIN_IMPORTABLE = ("peek_plugin_base.", "twisted.")


@pytest.mark.parametrize("name", our_names())
def test_our_name_is_one_a_plugin_may_import(name: str) -> None:
    """A porter is sent to the contract (or Twisted), never to the bus package or the
    platform, and every bus name is one the façade exports."""
    assert name.startswith(PLUGIN_IMPORTABLE), f"{name} is not importable by a plugin"
    if name.startswith("peek_plugin_base.vortex."):
        exported = name.removeprefix("peek_plugin_base.vortex.").split(".")[0]
        assert exported in peek_plugin_base.vortex.__all__, f"{exported} is not in the façade"
