"""Imported first by benchmark processes: installs the reactor named by PEEK_TWISTED_REACTOR
(``default``, what a service whose plugins need no asyncio runs, or ``asyncio``) before
anything imports one."""

import os

from peek_platform.service.reactor import REACTOR_ENV_VAR, install_reactor

#: The reactor this benchmark process runs on.
REACTOR = install_reactor(os.environ.get(REACTOR_ENV_VAR, "default"))
