"""Distribution of the monitoring example plugin (installed on its own like any plugin)."""

from setuptools import find_packages, setup

setup(
    name="peek-plugin-monitoring",
    version="0.1.0",
    description="Peek example event plugin: writes the platform's monitoring points to a "
    "JSON lines file or posts them to an HTTP sink.",
    python_requires=">=3.11",
    packages=find_packages(include=["peek_plugin_monitoring", "peek_plugin_monitoring.*"]),
    package_data={"peek_plugin_monitoring": ["plugin_package.json"]},
    install_requires=["peek-platform", "aiohttp>=3.9"],
    entry_points={"peek.plugins": ["peek_plugin_monitoring = peek_plugin_monitoring"]},
)
