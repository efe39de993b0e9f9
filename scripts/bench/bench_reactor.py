"""Imported first by benchmark processes: installs the reactor named by PEEK_TWISTED_REACTOR
(``asyncio``, the services' default, or ``default``) before anything imports one."""

import os

from peek_platform.service.reactor import REACTOR_ENV_VAR, install_reactor

#: The reactor this benchmark process runs on.
REACTOR = install_reactor(os.environ.get(REACTOR_ENV_VAR, "asyncio"))
