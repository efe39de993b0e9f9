"""The shared main of every ``run_peek_*`` command: arguments, config, logging, reactor.

Exit codes: 0 after a clean shutdown (including SIGTERM and SIGINT), 1 when the service
could not start, 78 (EX_CONFIG) when config.json cannot be used (one line naming the file
and why: unreadable, a folder, not UTF-8, not JSON, a duplicate key, an invalid value, or
missing defaults the home does not let us write back), or when the home does not let it
create its log file; ``--check-config`` also exits 78 for a near-miss key, a plugin in
``plugin.enabled`` that is not installed, not a plugin or listed twice, and a missing file
(:mod:`peek_platform.config_check`).
"""

import argparse
import faulthandler
import json
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, Optional, Union

from twisted.internet.defer import Deferred, DeferredLock
from twisted.python.failure import Failure

from peek_platform.config import (
    ServiceConfig,
    home_env_var,
    resolve_home,
    resolve_server_home,
    settings_for,
)
from peek_platform.config_check import check_config, unknown_keys
from peek_platform.errors import ConfigError
from peek_platform.events.sources import install_event_sources
from peek_platform.log_setup import log_before_setup, setup_logging
from peek_platform.plugin.discovery import installed_plugins
from peek_platform.service.reactor import choose_reactor, install_reactor
from peek_platform.service.tree import PeekServiceTree

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_CONFIG = 78

TreeBuilder = Callable[[ServiceConfig], PeekServiceTree]
#: A command run instead of the service when its options were given: the exit code, or
#: None to start the service as usual.
OneShot = Callable[[argparse.Namespace, ServiceConfig], Optional[int]]

EXIT_CODES_TEXT = (
    "Exit codes:\n"
    f"  {EXIT_OK:<3} stopped cleanly (SIGTERM/SIGINT included), or --check-config,\n"
    "      --list-plugins, --help (server: --admin-password) done\n"
    f"  {EXIT_START_FAILED:<3} the service could not start (a port in use, plugins failed "
    "to start;\n      the reason is on stderr and in the log)\n"
    f"  {EXIT_CONFIG:<3} config.json cannot be used, or the home does not let it create "
    "its log\n      (EX_CONFIG; the reason is on stderr and, when the home is writable, "
    "in the log)"
)


TWISTED_SIGNALS = (
    "Signals: SIGTERM/SIGINT stop gracefully; SIGHUP reloads config.json: logging.level, "
    "plugin.enabled (added plugins start, removed ones stop, plugins whose installed code "
    "changed are reloaded); other changed keys are named in a WARNING and wait for a "
    "restart. SIGUSR1 writes every thread's stack to stderr (for a service that hangs)."
)

def restart_only_changes(service: str, running: dict[str, Any],
                         fresh: dict[str, Any], live_keys: frozenset[str]) -> list[str]:
    """The declared keys whose value differs between ``running`` and ``fresh`` config data
    but that SIGHUP cannot apply: not in ``live_keys`` (the tree's, which its children
    declare), so they are read once, at start."""
    changed: list[str] = []
    for setting in settings_for(service):
        if setting.key in live_keys:
            continue
        if _value(running, setting.key) != _value(fresh, setting.key):
            changed.append(setting.key)
    return changed


def _value(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _keep_running_values(fresh: dict[str, Any], running: dict[str, Any],
                         keys: list[str]) -> None:
    """Put the running values of ``keys`` back into ``fresh``, so the config the process
    holds says what it runs with until the restart."""
    for key in keys:
        *parents, last = key.split(".")
        node = fresh
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = json.loads(json.dumps(_value(running, key)))


def _parser(service: str, description: str, signals_text: str) -> argparse.ArgumentParser:
    settings = "\n".join(
        f"  {s.key} (default {s.default!r}): {s.doc}" for s in settings_for(service)
    )
    parser = argparse.ArgumentParser(
        prog=f"run_peek_{service}",
        description=description,
        epilog=f"config.json keys for the {service} service:\n{settings}\n\n{signals_text}"
        f"\n\n{EXIT_CODES_TEXT}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--home",
        help=f"service home holding config.json and logs (default: ${home_env_var(service)}"
        f" or ~/peek-{service}.home)",
    )
    if service != "server":
        parser.add_argument(
            "--server-home",
            help="the server's home on this machine, where the platform token, the "
            "worker's default database and the embedded broker's folder are found (default: "
            f"${home_env_var('server')}, else peek-server.home beside this service's home)",
        )
    if service == "server":
        parser.add_argument(
            "--admin-password",
            action="store_true",
            help="set (or reset) an admin site password and exit: reads the new password "
            "from the terminal (twice), or the first line of stdin when it is not a terminal "
            "(never from the command line); creates the account if needed. Sessions opened "
            "with the old password end within seconds",
        )
        parser.add_argument(
            "--admin-user", default="admin", metavar="NAME",
            help="the account --admin-password sets (default: admin)",
        )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate config.json and exit without starting or writing anything: every "
        "invalid value, unknown key (a near-miss of a setting is an error), plugin in "
        "plugin.enabled that is not installed, not a plugin or listed twice; exit 78 on "
        "any, a missing config.json too",
    )
    parser.add_argument(
        "--log-stdout", action="store_true", help="also log to stdout (default when a terminal)"
    )
    parser.add_argument(
        "--list-plugins",
        action="store_true",
        help="list installed plugins (entry-point group peek.plugins) and exit",
    )
    return parser


def prepare_service(
    service: str,
    argv: Optional[list[str]],
    description: str,
    signals_text: str,
    extra_check: Optional[Callable[[ServiceConfig], object]] = None,
    one_shot: Optional["OneShot"] = None,
) -> Union[ServiceConfig, int]:
    """Everything every ``run_peek_*`` does before it starts: arguments, config, logging.

    Returns the validated config with logging set up, or the exit code when the command is
    already done (``--list-plugins``, ``--check-config``, an unusable config).
    ``extra_check`` may raise ConfigError for settings that need more than one key.
    ``one_shot`` runs once logging is set up; an exit code it returns ends the command
    there (``run_peek_server --admin-password``).
    """
    args = _parser(service, description, signals_text).parse_args(argv)
    if args.list_plugins:
        for name, version in installed_plugins().items():
            print(f"{name} {version}")
        return EXIT_OK

    home = resolve_home(service, args.home)
    server_home = resolve_server_home(service, home, getattr(args, "server_home", None))
    warnings: list[str] = []
    try:
        if args.check_config:
            config, warnings = check_config(service, home, server_home)
        else:
            config = ServiceConfig.load(service, home, server_home=server_home)
        if extra_check is not None:
            extra_check(config)
    except ConfigError as e:
        print(f"run_peek_{service}: config error: {e}", file=sys.stderr)
        if not args.check_config:
            # Logging is not set up (its settings are in the broken file), yet an operator
            # reading the service log must see why it stopped.
            log_before_setup(service, home, f"config error: {e}")
        return EXIT_CONFIG
    read_only_note = _read_only_note(config)
    if read_only_note:
        print(f"run_peek_{service}: {read_only_note}", file=sys.stderr)
    if args.check_config:
        for warning in warnings:
            print(f"run_peek_{service}: warning: {config.path}: {warning}", file=sys.stderr)
        print(f"{config.path}: OK" + (f" ({len(warnings)} warning(s) on stderr)"
                                      if warnings else ""))
        return EXIT_OK

    try:
        log_file = setup_logging(
            service,
            home,
            config["logging.level"],
            config["logging.rotateSizeMb"],
            config["logging.rotationsToKeep"],
            args.log_stdout or config["logging.logToStdout"],
        )
    except OSError as e:
        # A read-only or missing home: one line, like an unusable config.json.
        print(f"run_peek_{service}: cannot open the log file in {home}: "
              f"{e.strerror or e}", file=sys.stderr)
        return EXIT_CONFIG
    logger.info("Peek %s starting; home %s; log %s", service, home, log_file)
    if read_only_note:
        logger.warning("%s", read_only_note)
    warn_unknown_keys(config)
    if one_shot is not None:
        code = one_shot(args, config)
        if code is not None:
            return code
    return config


def warn_unknown_keys(config: ServiceConfig) -> None:
    """Log a WARNING per key the service does not read, naming the setting probably meant
    (the plugin host reports enabled plugins that are not installed as it loads them)."""
    for unknown in unknown_keys(config.service, config.data):
        logger.warning("%s: %s", config.path, unknown.describe(config.service))


def _read_only_note(config: ServiceConfig) -> Optional[str]:
    """One line naming the defaults a read-only config.json did not get written into it."""
    missing = config.defaults_in_memory
    if not missing:
        return None
    return (
        f"{config.path} is read-only, so it was not rewritten; {len(missing)} missing "
        f"key(s) use their defaults in memory: {', '.join(missing)}"
    )


def install_stop_signal_handlers(reactor: Any) -> None:
    """Replace the running reactor's SIGTERM/SIGINT handlers with ones that only hand the
    stop to the reactor thread, which then logs it and stops the reactor.

    Twisted's own handlers log from inside the signal handler. Python runs a handler in
    the main thread between two bytecodes, so a signal landing while that thread is inside
    a log handler that holds a lock made the nested log call wait for that lock forever:
    the process ignored SIGTERM (seen as services that "did not exit" in the tests).
    """
    from twisted.internet.error import ReactorNotRunning

    def stop_for(signum: int) -> None:
        logger.info("Received %s, shutting down", signal.Signals(signum).name)
        try:
            reactor.stop()
        except ReactorNotRunning:
            pass  # a second signal while the shutdown is already under way

    def on_signal(signum: int, _frame: Any) -> None:
        reactor.callFromThread(stop_for, signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def run_service(service: str, build: TreeBuilder, argv: Optional[list[str]] = None,
                one_shot: Optional[OneShot] = None) -> int:
    """Run one service process until it is stopped; returns the exit code."""
    # A stop request that arrives before the reactor installs its own handlers still ends in
    # the sequenced shutdown (with exit 0) instead of killing the process mid-start.
    early_stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: early_stop.append(signum))
    # Written from the signal handler in C, so it works even when the reactor is stuck.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)

    prepared = prepare_service(
        service, argv, f"Run the Peek {service} service and its enabled plugins.",
        TWISTED_SIGNALS, one_shot=one_shot,
    )
    if isinstance(prepared, int):
        return prepared
    config = prepared
    home = config.home
    try:
        choice = choose_reactor(config["twisted.reactor"], service, config["plugin.enabled"])
        install_reactor(choice.name)
    except ConfigError as e:
        logger.critical("%s", e)
        print(f"run_peek_{service}: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG

    install_event_sources(config)

    from twisted.internet import reactor

    tree = build(config)
    exit_code = [EXIT_OK]
    reload_lock = DeferredLock()

    def start_failed(failure: Failure) -> None:
        logger.critical("Peek %s failed to start: %s", service, failure.getErrorMessage())
        logger.debug("%s", failure.getTraceback())
        exit_code[0] = EXIT_START_FAILED
        if reactor.running:
            reactor.stop()

    def start() -> None:
        if early_stop:
            logger.info("Stop requested during start-up; shutting down")
            reactor.stop()
            return
        d = tree.startService()
        d.addCallback(lambda _: logger.info("Peek %s is running", service))
        d.addErrback(start_failed)

    async def reload_config() -> None:
        try:
            fresh = ServiceConfig.load(service, home, server_home=config.server_home)
        except ConfigError as e:
            logger.error("SIGHUP: config not reloaded, keeping the running settings: %s", e)
            return
        pending = restart_only_changes(service, config.data, fresh.data, tree.live_keys)
        for key in pending:
            logger.warning(
                "SIGHUP: %s changed in %s but is only read at start; the service keeps "
                "running with %r until it is restarted", key, config.path,
                _value(config.data, key))
        _keep_running_values(fresh.data, config.data, pending)
        config.data = fresh.data
        warn_unknown_keys(config)
        logger.info("SIGHUP: config reloaded%s",
                    f" ({len(pending)} key(s) need a restart)" if pending else "")
        # Each child applies what it owns (the plugin host: plugin.enabled).
        await tree.reconfigure(config)

    def on_sighup() -> None:
        if not tree.running:
            return
        d = reload_lock.run(lambda: Deferred.fromCoroutine(reload_config()))
        d.addErrback(lambda f: logger.error("SIGHUP reload failed: %s", f.getTraceback()))

    signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(on_sighup))
    # Runs after the reactor installed its own signal handlers, which it replaces.
    reactor.callWhenRunning(install_stop_signal_handlers, reactor)
    # Start from inside the running loop, so plugins' start() may use asyncio at once.
    reactor.callWhenRunning(lambda: reactor.callLater(0, start))
    # One sequenced shutdown: the tree closes ports, then stops and unloads plugins.
    reactor.addSystemEventTrigger("before", "shutdown", tree.stopService)
    # Twisted only takes over SIGINT when it still has Python's default handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    reactor.run()
    logger.info("Peek %s stopped", service)
    return exit_code[0]
