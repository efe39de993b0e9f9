"""Distribution of the noop example plugin (installed on its own, like any external plugin)."""

from setuptools import find_packages, setup

setup(
    name="peek-plugin-noop",
    version="0.1.0",
    description="Peek example plugin: runs on every service and only logs its lifecycle.",
    python_requires=">=3.11",
    packages=find_packages(include=["peek_plugin_noop", "peek_plugin_noop.*"]),
    package_data={"peek_plugin_noop": ["plugin_package.json"]},
    install_requires=["peek-platform"],
    entry_points={"peek.plugins": ["peek_plugin_noop = peek_plugin_noop"]},
)
