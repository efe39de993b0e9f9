"""Live platform state for the admin site: every service reports, the server observes.

* :mod:`.tuples` — the platform-owned tuple types and names the admin pages use.
* :mod:`.reporter` — runs in every service: builds its report (plugins, process, bus,
  devices, masked config), keeps a tail of its log, sends both to the server, and applies
  plugin control commands that come from the server.
* :mod:`.registry` — runs in the server: keeps the reports as observable tuples (observable
  ``peek_platform_admin``), marks a service gone when its connection drops, and serves the
  admin-only control, settings, log and plugin-data calls.
"""
