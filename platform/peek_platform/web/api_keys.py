"""API keys for endpoint routes: stored as SHA-256 digests, checked in constant time.

A key is 32 random bytes (``peek_api_key new`` makes one), so a fast digest is enough: there
is nothing to brute-force that a slow hash would protect, and a slow hash on every request
would let any caller burn CPU. config.json holds only ``"sha256:<hex>"`` digests in
``httpServer.apiKeys``; a key sent in ``X-Api-Key`` is hashed and compared with every
digest (``hmac.compare_digest``, no early exit), so timing tells nothing about which
digest came close.

Each entry says what it admits::

    {"name": "dashboard", "hash": "sha256:…", "sites": ["platform"],
     "plugins": ["peek_plugin_sysinfo"], "control": false}

``sites`` and ``plugins`` default to ``["*"]`` (every site, every plugin); ``control``
(default false) admits the control routes ``/plugins`` and ``/reload/...``.
"""

import argparse
import hashlib
import hmac
import json
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

HASH_PREFIX = "sha256:"
_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_FIELDS = {"name", "hash", "sites", "plugins", "control"}


def new_api_key() -> str:
    """A fresh key: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The digest stored in config.json for ``key``."""
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKeyEntry:
    """One configured key: its digest and what it admits."""

    name: str
    digest: bytes
    sites: Optional[frozenset[str]]
    plugins: Optional[frozenset[str]]
    control: bool

    def admits(self, site: str, plugin: Optional[str]) -> bool:
        """Whether this key opens ``plugin``'s routes on ``site`` (None: control routes)."""
        if self.sites is not None and site not in self.sites:
            return False
        if plugin is None:
            return self.control
        return self.plugins is None or plugin in self.plugins


def _names(value: Any) -> Optional[frozenset[str]]:
    names = frozenset(value)
    return None if "*" in names else names


def parse_entries(value: list[dict[str, Any]]) -> list[ApiKeyEntry]:
    """Entries of a validated ``httpServer.apiKeys``."""
    return [
        ApiKeyEntry(
            name=entry["name"],
            digest=bytes.fromhex(entry["hash"][len(HASH_PREFIX):]),
            sites=_names(entry.get("sites", ["*"])),
            plugins=_names(entry.get("plugins", ["*"])),
            control=bool(entry.get("control", False)),
        )
        for entry in value
    ]


def check_entries(value: Any) -> Optional[str]:
    """The config validator of ``httpServer.apiKeys``: every problem in one message."""
    if not isinstance(value, list):
        return ('must be a list of key entries ({"name": ..., "hash": "sha256:..."}), '
                f"got {value!r}")
    problems: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        where = f"[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be an object, got {entry!r}")
            continue
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            problems.append(f"{where} has unknown field(s) {', '.join(unknown)} (allowed: "
                            f"{', '.join(sorted(_FIELDS))})")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.name must be a non-empty string, got {name!r}")
        elif name in seen:
            problems.append(f"{where}.name {name!r} is used twice")
        else:
            seen.add(name)
            where = f"[{index}] ({name})"
        digest = entry.get("hash")
        if not isinstance(digest, str) or not _HASH_RE.match(digest):
            problems.append(f"{where}.hash must be \"sha256:\" and 64 lower-case hex digits "
                            "(run `peek_api_key new` to make a key and its hash; never put "
                            "the key itself here)")
        for list_field in ("sites", "plugins"):
            names = entry.get(list_field, ["*"])
            if not isinstance(names, list) or not names or not all(
                    isinstance(n, str) and n for n in names):
                problems.append(f"{where}.{list_field} must be a non-empty list of names "
                                f"(\"*\": all), got {names!r}")
        if not isinstance(entry.get("control", False), bool):
            problems.append(f"{where}.control must be true or false, got {entry['control']!r}")
    if problems:
        return "is invalid: " + "; ".join(problems)
    return None


class ApiKeyChecker:
    """Finds the configured entry matching a presented key, in constant time."""

    def __init__(self, entries: list[ApiKeyEntry]) -> None:
        self.entries = entries

    def match(self, presented: Optional[str]) -> Optional[ApiKeyEntry]:
        """The entry whose digest is the presented key's, or None."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
        found: Optional[ApiKeyEntry] = None
        for entry in self.entries:
            # Every digest is compared, so the time taken does not depend on which matched.
            if hmac.compare_digest(digest, entry.digest):
                found = entry
        return found


def new_entry(name: str, sites: list[str], plugins: list[str], control: bool,
              ) -> tuple[str, dict[str, Any]]:
    """A new key and the config entry holding its digest."""
    key = new_api_key()
    entry: dict[str, Any] = {"name": name, "hash": hash_api_key(key), "sites": sites,
                             "plugins": plugins, "control": control}
    return key, entry


def add_entry_to_config(config_path: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` to ``httpServer.apiKeys`` of ``config_path`` (written atomically),
    replacing an entry of the same name."""
    from peek_platform.config import _atomic_write_json, read_json_object

    data = read_json_object(config_path) or {}
    if not isinstance(data, dict):
        raise SystemExit(f"{config_path}: the top level must be a JSON object")
    http = data.setdefault("httpServer", {})
    if not isinstance(http, dict) or not isinstance(http.setdefault("apiKeys", []), list):
        raise SystemExit(f"{config_path}: httpServer.apiKeys must be a list")
    keys = [e for e in http["apiKeys"]
            if not (isinstance(e, dict) and e.get("name") == entry["name"])]
    keys.append(entry)
    http["apiKeys"] = keys
    config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _atomic_write_json(config_path, data)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] or ["*"]


def main(argv: Optional[list[str]] = None) -> int:
    """``peek_api_key new``: make a key, print it once and the digest entry for config.json."""
    parser = argparse.ArgumentParser(
        prog="peek_api_key",
        description="Make an API key for endpoint routes. The key is printed once; config.json "
                    "keeps only its SHA-256 digest.")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a key")
    new.add_argument("--name", required=True, help="a label for the key (unique)")
    new.add_argument("--sites", default="*", help="comma-separated site names, or * (default)")
    new.add_argument("--plugins", default="*", help="comma-separated plugin names, or * (default)")
    new.add_argument("--control", action="store_true",
                     help="also admit the control routes /plugins and /reload/...")
    new.add_argument("--config", type=Path,
                     help="add the entry to this config.json (else print it to paste in)")
    args = parser.parse_args(argv)
    key, entry = new_entry(args.name, _split(args.sites), _split(args.plugins), args.control)
    if args.config is not None:
        add_entry_to_config(args.config, entry)
        print(f"added key {args.name!r} to httpServer.apiKeys in {args.config}; SIGHUP the "
              "service (or restart it) to use it", file=sys.stderr)
    else:
        print("add this entry to httpServer.apiKeys in the service's config.json:",
              file=sys.stderr)
        print(json.dumps(entry), file=sys.stderr)
    print("the key (shown once; send it in the X-Api-Key header):", file=sys.stderr)
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
