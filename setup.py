"""One distribution for the Peek platform: plugin contract, runtime and the four services."""

from setuptools import setup

PACKAGE_DIRS = {
    "peek_vortex": "platform/peek_vortex",
    "peek_plugin_base": "plugin_base/peek_plugin_base",
    "peek_platform": "platform/peek_platform",
    "peek_server": "services/server/peek_server",
    "peek_client": "services/client/peek_client",
    "peek_agent": "services/agent/peek_agent",
    "peek_worker": "services/worker/peek_worker",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    """Every folder under each container folder, as a package mapped to its folder.

    Folders without ``__init__.py`` (the Alembic migrations) are listed too: Python can
    import them, and setuptools warns on every build about an importable folder that is not
    in ``packages``.
    """
    import os

    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for top, folder in PACKAGE_DIRS.items():
        for dirpath, dirnames, _filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d.isidentifier()]
            name = top + dirpath[len(folder):].replace(os.sep, ".")
            packages.append(name)
            package_dir[name] = dirpath
    return packages, package_dir


packages, package_dir = _packages()

DOCS_REQUIRES = ["sphinx>=8,<10", "myst-parser>=4"]

setup(
    name="peek-platform",
    version="0.1.0",
    description="A plugin platform on Twisted: server, client, agent and worker services.",
    python_requires=">=3.11",
    packages=packages,
    package_dir=package_dir,
    include_package_data=True,
    # The platform schema's migrations are scripts Alembic loads; their template is data.
    package_data={
        "peek_platform.storage.migrations": ["*.mako"],
        # The plugin scaffold's file templates (not Python modules of the platform).
        "peek_platform.scaffold": ["templates/*.tmpl"],
        # The admin site's stylesheet and ES modules (served as files, no build step).
        "peek_platform.admin.web": ["*.css", "*.js"],
        # The device app shell's page, script, style sheet and service worker.
        "peek_platform.web.shell": ["*.html", "*.js", "*.css"],
        # The browser bus client (ES modules served at /peek/ by the device and admin sites).
        "peek_vortex.js": ["*.js"],
    },
    install_requires=[
        # The bus transport tunes Twisted and autobahn internals; stay on the tested majors.
        # [tls]: https sites and wss bus connections that verify the server (pyOpenSSL,
        # service_identity for hostname checks, idna).
        "twisted[tls]>=24.7,<27",
        # peek_dev_certs writes a development CA and server certificates.
        "cryptography>=42",
        "orjson>=3.9",
        "sqlalchemy>=2.0,<2.1",
        "alembic>=1.12",
        "psycopg[binary]>=3.1",
        "autobahn>=26.6,<27",
        # Worker tasks: Celery with JSON only; Redis for the production broker/backend
        # (RabbitMQ needs nothing more: kombu brings py-amqp).
        "celery>=5.4,<6",
        "redis>=5",
    ],
    extras_require={
        # `make docs`: the site and its API reference (Sphinx autodoc, Markdown via MyST).
        "docs": DOCS_REQUIRES,
        # The tests build the API reference too, so the test extra brings the docs tools.
        "test": [
            "pytest>=8",
            "hypothesis>=6",
            "ruff>=0.6",
            # Lets the wheel test build a plugin wheel offline (--no-build-isolation).
            "wheel>=0.41",
            # asyncio-in-plugins tests use an aiohttp client and server, as seed 003 does.
            "aiohttp>=3.9",
            # Browser tests drive Debian's chromium (never a downloaded browser).
            "playwright>=1.45",
            *DOCS_REQUIRES,
        ],
    },
    entry_points={
        "console_scripts": [
            "run_peek_server = peek_server.main:main",
            "run_peek_client = peek_client.main:main",
            "run_peek_agent = peek_agent.main:main",
            "run_peek_worker = peek_worker.main:main",
            "peek_storage_dev = peek_platform.storage.dev_command:main",
            "peek_plugin = peek_platform.scaffold.cli:run",
            "peek_dev_certs = peek_platform.tls:main",
            "peek_api_key = peek_platform.web.api_keys:main",
        ],
    },
)
