"""Chooses the process's Twisted reactor (``twisted.reactor`` in config.json).

``asyncio`` (the default) installs ``twisted.internet.asyncioreactor``: Twisted runs on an
asyncio event loop, so plugins may use ``asyncio.sleep``, ``asyncio.create_task`` and
aiohttp (their coroutines run as asyncio Tasks through :mod:`peek_plugin_base.aio`).
``default`` keeps Twisted's own reactor (epoll on Linux).

The reactor must be installed before anything imports ``twisted.internet.reactor``; the
services call :func:`install_reactor` right after reading config.json, and the first
import of the reactor happens after it.
"""

import asyncio
import logging
import sys

from peek_platform.errors import ConfigError

logger = logging.getLogger(__name__)

#: Lets benchmarks and tests pick a reactor without a config.json.
REACTOR_ENV_VAR = "PEEK_TWISTED_REACTOR"


def installed_reactor_name() -> str:
    """``"asyncio"`` when the installed reactor runs on asyncio, else ``"default"``."""
    from twisted.internet import reactor

    return "asyncio" if hasattr(reactor, "_asyncioEventloop") else "default"


def install_reactor(choice: str) -> str:
    """Install the reactor named ``choice`` ("asyncio" or "default") for this process.

    Returns the name of the reactor that is installed afterwards. Raises ConfigError when
    another reactor was already imported (the choice could not be honoured).
    """
    if choice not in ("asyncio", "default"):
        raise ConfigError(f'twisted.reactor must be "asyncio" or "default", got {choice!r}')
    if "twisted.internet.reactor" in sys.modules:
        current = installed_reactor_name()
        if current != choice:
            raise ConfigError(
                f"twisted.reactor is {choice!r} but the {current} reactor was already "
                "imported before the service could choose (an import-time "
                "'from twisted.internet import reactor' somewhere)"
            )
        return current
    if choice == "asyncio":
        from twisted.internet import asyncioreactor

        # A fresh loop of our own: nothing else in the process may have one running yet.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        asyncioreactor.install(loop)
    else:
        from twisted.internet import default

        default.install()
    logger.info("Twisted reactor: %s", choice)
    return choice
