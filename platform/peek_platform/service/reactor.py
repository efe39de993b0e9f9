"""Chooses the process's Twisted reactor (``twisted.reactor`` in config.json).

``auto`` (the default) runs Twisted's own reactor (epoll on Linux), the faster one, unless
a plugin this service runs declares ``"asyncio": true`` in its ``plugin_package.json``;
then it installs ``twisted.internet.asyncioreactor``: Twisted runs on an asyncio event
loop, so plugins may use ``asyncio.sleep``, ``asyncio.create_task`` and aiohttp (their
coroutines run as asyncio Tasks through :mod:`peek_plugin_base.aio`). ``asyncio`` and
``default`` force either reactor.

The choice is made before anything imports ``twisted.internet.reactor``, so the plugins'
declarations are read from their ``plugin_package.json`` without importing the plugins
(:func:`peek_platform.plugin.discovery.declared_package_json`). The services call
:func:`choose_reactor` right after reading config.json and :func:`install_reactor` with
its answer (the worker installs it later, in its bus thread, after Celery's pool forked).
A plugin that needs asyncio and is enabled later on a service running the default reactor
fails to load with :data:`NEEDS_ASYNCIO_REASON`.
"""

import asyncio
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

from peek_platform.errors import ConfigError
from peek_platform.plugin.discovery import ASYNCIO_KEY, asyncio_declarations

logger = logging.getLogger(__name__)

#: Lets benchmarks and tests pick a reactor without a config.json.
REACTOR_ENV_VAR = "PEEK_TWISTED_REACTOR"
#: The reactors that can be installed (``twisted.reactor`` also accepts ``auto``).
INSTALLABLE = ("asyncio", "default")

#: Why a plugin declaring ``"asyncio": true`` is refused on a default-reactor service.
NEEDS_ASYNCIO_REASON = (
    f'needs the asyncio reactor (its plugin_package.json declares "{ASYNCIO_KEY}": true) '
    "but this service runs the default reactor; set twisted.reactor to asyncio or auto "
    "and restart the service"
)

# The reactor this process chose (the worker chooses before its pool forks and installs
# after); None until a choice or an install.
_chosen: Optional[str] = None


@dataclass(frozen=True)
class ReactorChoice:
    """The reactor a service installs and why (for the log line)."""

    #: "asyncio" or "default".
    name: str
    reason: str


def choose_reactor(setting: str, service: str, enabled: Iterable[str]) -> ReactorChoice:
    """Decide the reactor from ``twisted.reactor`` and the enabled plugins' declarations.

    Logs one line naming the reactor and why. Raises ConfigError for an unknown setting.
    """
    global _chosen
    if setting in INSTALLABLE:
        choice = ReactorChoice(setting, f'twisted.reactor is "{setting}"')
    elif setting == "auto":
        needing = _plugins_needing_asyncio(service, enabled)
        if needing:
            choice = ReactorChoice(
                "asyncio",
                f'twisted.reactor is "auto" and {", ".join(needing)} declare'
                f'{"s" if len(needing) == 1 else ""} "{ASYNCIO_KEY}": true')
        else:
            choice = ReactorChoice(
                "default",
                f'twisted.reactor is "auto" and no enabled plugin of the {service} service '
                f'declares "{ASYNCIO_KEY}": true')
    else:
        raise ConfigError(
            f'twisted.reactor must be "auto", "asyncio" or "default", got {setting!r}')
    _chosen = choice.name
    logger.info("Twisted reactor: %s (%s)", choice.name, choice.reason)
    return choice


def _plugins_needing_asyncio(service: str, enabled: Iterable[str]) -> list[str]:
    """Enabled plugins running on ``service`` whose plugin_package.json declares asyncio."""
    needing, bad = asyncio_declarations(service, enabled)
    for name, problem in bad:
        # The plugin fails to load with this reason; the reactor choice ignores it.
        logger.warning("Plugin %s: %s; not counted when choosing the reactor", name, problem)
    return needing


def planned_reactor() -> Optional[str]:
    """The reactor this process chose or runs ("asyncio"/"default"); None when neither is
    known yet (code run with no service around it)."""
    if _chosen is not None:
        return _chosen
    if "twisted.internet.reactor" in sys.modules:
        return installed_reactor_name()
    return None


def installed_reactor_name() -> str:
    """``"asyncio"`` when the installed reactor runs on asyncio, else ``"default"``."""
    from twisted.internet import reactor

    return "asyncio" if hasattr(reactor, "_asyncioEventloop") else "default"


def install_reactor(choice: str) -> str:
    """Install the reactor named ``choice`` ("asyncio" or "default") for this process.

    Returns the name of the reactor that is installed afterwards. Raises ConfigError when
    another reactor was already imported (the choice could not be honoured).
    """
    global _chosen
    if choice not in INSTALLABLE:
        raise ConfigError(f'the reactor to install must be "asyncio" or "default", '
                          f"got {choice!r}")
    if "twisted.internet.reactor" in sys.modules:
        current = installed_reactor_name()
        if current != choice:
            raise ConfigError(
                f"twisted.reactor chose {choice!r} but the {current} reactor was already "
                "imported before the service could choose (an import-time "
                "'from twisted.internet import reactor' somewhere)"
            )
        _chosen = current
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
    _chosen = choice
    logger.debug("Twisted reactor %s installed", choice)
    return choice
