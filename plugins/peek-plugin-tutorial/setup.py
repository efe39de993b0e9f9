"""Distribution of the tutorial plugin, built chapter by chapter in README.md."""

from setuptools import find_packages, setup

setup(
    name="peek-plugin-tutorial",
    version="0.0.1",
    description="Peek Plugin Tutorial - the plugin the developer guide builds step by step.",
    python_requires=">=3.11",
    packages=find_packages(include=["peek_plugin_tutorial", "peek_plugin_tutorial.*"]),
    # The migrations are scripts Alembic loads by path, not import packages.
    package_data={
        "peek_plugin_tutorial": [
            "plugin_package.json",
            "_private/alembic/*.py",
            "_private/alembic/*.mako",
            "_private/alembic/versions/*.py",
            # The mobile and desktop app: static ES modules served by the client service.
            "_private/device-app/*",
            "_private/admin-app/*",
        ],
    },
    install_requires=["peek-platform"],
    entry_points={"peek.plugins": ["peek_plugin_tutorial = peek_plugin_tutorial"]},
)
