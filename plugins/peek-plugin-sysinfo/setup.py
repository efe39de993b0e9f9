"""Distribution of the sysinfo example plugin (installed on its own, like any external plugin)."""

from setuptools import find_packages, setup

setup(
    name="peek-plugin-sysinfo",
    version="0.1.0",
    description="Peek example endpoint plugin: network interfaces and their rates as JSON.",
    python_requires=">=3.11",
    packages=find_packages(include=["peek_plugin_sysinfo", "peek_plugin_sysinfo.*"]),
    package_data={"peek_plugin_sysinfo": ["plugin_package.json"]},
    install_requires=["peek-platform"],
    entry_points={"peek.plugins": ["peek_plugin_sysinfo = peek_plugin_sysinfo"]},
)
