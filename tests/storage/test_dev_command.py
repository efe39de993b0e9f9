"""``peek_storage_dev``: readable linear revisions by autogenerate, upgrade/downgrade/current."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.storage.plugin_factory import PluginFactory

TWO_TABLES = """
class Item(DeclarativeBase):
    __tablename__ = "Item"
    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(50))


class Tag(DeclarativeBase):
    __tablename__ = "Tag"
    id = Column(Integer, primary_key=True, autoincrement=True)
    itemId = Column(Integer, ForeignKey(Item.id), index=True)
"""


def dev(plugins: PluginFactory, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with the plugins' folder importable."""
    env = dict(os.environ)
    env.pop("PEEK_STORAGE_DEV_URL", None)
    env["PYTHONPATH"] = os.pathsep.join([str(plugins.root), env.get("PYTHONPATH", "")])
    script = Path(sys.executable).parent / "peek_storage_dev"
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_revision_autogenerate_then_upgrade_current_downgrade(
    db_url: str, plugins: PluginFactory
) -> None:
    """Autogenerate writes 0001_/0002_ revisions in a line; they upgrade and downgrade a DB."""
    alembic_dir = plugins.write("peek_plugin_alpha", [])
    first = dev(plugins, "peek_plugin_alpha", "revision", "--autogenerate", "-m", "Add Item")
    assert first.returncode == 0, first.stderr
    assert (alembic_dir / "versions" / "0001_add_item.py").is_file()
    assert "Detected added table 'pl_alpha.Item'" in first.stderr

    plugins.write("peek_plugin_alpha", None, tables=TWO_TABLES)
    second = dev(plugins, "peek_plugin_alpha", "revision", "--autogenerate", "-m", "Add Tag!")
    assert second.returncode == 0, second.stderr
    text = (alembic_dir / "versions" / "0002_add_tag.py").read_text()
    assert 'down_revision = "0001_add_item"' in text
    upgrade_body = text.split("def downgrade")[0]
    assert re.search(r'create_table\(\s*"Tag"', upgrade_body)
    assert not re.search(r'create_table\(\s*"Item"', upgrade_body)

    upgrade = dev(plugins, "--url", db_url, "peek_plugin_alpha", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    current = dev(plugins, "--url", db_url, "peek_plugin_alpha", "current")
    assert current.stdout.strip() == "0002_add_tag (head)"

    # Against the real, up-to-date database autogenerate finds nothing new.
    third = dev(
        plugins, "--url", db_url, "peek_plugin_alpha", "revision", "--autogenerate", "-m", "nothing"
    )
    assert third.returncode == 0, third.stderr
    assert "op." not in (alembic_dir / "versions" / "0003_nothing.py").read_text()

    down = dev(plugins, "--url", db_url, "peek_plugin_alpha", "downgrade", "0001_add_item")
    assert down.returncode == 0, down.stderr
    current = dev(plugins, "--url", db_url, "peek_plugin_alpha", "current")
    assert current.stdout.strip() == "0001_add_item"

    history = dev(plugins, "peek_plugin_alpha", "history")
    assert history.stdout.splitlines() == [
        "0002_add_tag -> 0003_nothing (head), nothing",
        "0001_add_item -> 0002_add_tag, Add Tag!",
        "<base> -> 0001_add_item, Add Item",
    ]


def test_errors_are_one_clear_line(plugins: PluginFactory) -> None:
    """An unknown plugin or a missing URL ends with status 1 and a message, no traceback."""
    unknown = dev(plugins, "peek_plugin_missing", "history")
    assert unknown.returncode == 1
    assert "cannot import plugin peek_plugin_missing" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    plugins.write("peek_plugin_alpha", [])
    no_url = dev(plugins, "peek_plugin_alpha", "current")
    assert no_url.returncode == 1 and "--url" in no_url.stderr
