"""TLS settings in config.json: checked at load, all problems at once; dev certificates."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from peek_platform.config import ServiceConfig
from peek_platform.errors import ConfigValidationError
from peek_platform.tls import main as dev_certs_main
from peek_platform.tls import write_dev_certs
from tests.support import BIN


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A development CA and a server certificate for 127.0.0.1 and localhost."""
    return write_dev_certs(tmp_path_factory.mktemp("certs"))


def _write(home: Path, config: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps(config))


def test_dev_certs_keys_are_owner_only_and_the_ca_is_reused(tmp_path: Path) -> None:
    """peek_dev_certs writes keys 0600; a second run keeps the CA (so certificates made later
    are trusted by services holding the first ca.pem) and makes a new server key."""
    first = write_dev_certs(tmp_path)
    for role in ("key", "ca_key"):
        assert stat.S_IMODE(first[role].stat().st_mode) == 0o600
    ca, key = first["ca"].read_bytes(), first["key"].read_bytes()
    second = write_dev_certs(tmp_path, ["peek.example"], name="other")
    assert second["ca"].read_bytes() == ca
    assert second["key"] != first["key"] and second["key"].read_bytes() != key
    assert stat.S_IMODE(second["key"].stat().st_mode) == 0o600


def test_dev_certs_command_prints_the_config_to_use(tmp_path: Path) -> None:
    """The console script writes the four files and prints the config.json keys naming them."""
    done = subprocess.run([str(BIN / "peek_dev_certs"), str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for name in ("ca.pem", "ca.key", "server.pem", "server.key"):
        assert (tmp_path / "c" / name).is_file()
    assert '"certFile"' in done.stdout and '"caFile"' in done.stdout
    assert dev_certs_main([str(tmp_path / "d"), "--host", "10.0.0.1", "--host", "peek.lan"]) == 0


def test_a_usable_pair_loads_with_paths_relative_to_the_home(tmp_path: Path,
                                                            certs: dict[str, Path]) -> None:
    """Certificate and key named relative to the home are found there; plainPort may be set."""
    home = tmp_path / "server.home"
    home.mkdir()
    (home / "tls").symlink_to(certs["cert"].parent)
    _write(home, {"tls": {"certFile": "tls/server.pem", "keyFile": "tls/server.key"},
                  "httpServer": {"platform": {"plainPort": 18999}}})
    config = ServiceConfig.load("server", home)
    assert config["tls.certFile"] == "tls/server.pem"
    assert config["httpServer.platform.plainPort"] == 18999
    assert config["httpServer.admin.plainPort"] == 0


def test_every_tls_problem_is_reported_at_once_naming_key_and_file(
        tmp_path: Path, certs: dict[str, Path]) -> None:
    """A missing certificate and a key that is not PEM are both reported, each naming its
    setting and file, together with an unrelated invalid value."""
    home = tmp_path / "h"
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")
    _write(home, {"tls": {"certFile": str(tmp_path / "absent.pem"), "keyFile": str(garbage)},
                  "logging": {"level": "LOUD"}})
    with pytest.raises(ConfigValidationError) as raised:
        ServiceConfig.load("server", home)
    problems = raised.value.problems
    assert len(problems) == 3, problems
    assert any("logging.level" in p for p in problems)
    assert any(p.startswith(f"tls.certFile ({tmp_path / 'absent.pem'}): no such file")
               for p in problems)
    assert any(p.startswith(f"tls.keyFile ({garbage}): holds no usable PEM private key")
               for p in problems)


def test_a_key_of_another_certificate_is_refused(tmp_path: Path,
                                                 certs: dict[str, Path]) -> None:
    """A key that does not belong to the certificate is named with both files."""
    other = write_dev_certs(tmp_path / "other")
    home = tmp_path / "h"
    _write(home, {"tls": {"certFile": str(certs["cert"]), "keyFile": str(other["key"])}})
    with pytest.raises(ConfigValidationError) as raised:
        ServiceConfig.load("client", home)
    (problem,) = raised.value.problems
    assert "does not match the certificate" in problem
    assert str(other["key"]) in problem and str(certs["cert"]) in problem


def test_a_folder_or_a_nul_in_place_of_a_file_is_named(tmp_path: Path) -> None:
    """A folder where the certificate should be, and a key path with a NUL, are each
    reported naming the setting, not raised as tracebacks."""
    home = tmp_path / "h"
    (home / "cert-dir").mkdir(parents=True)
    _write(home, {"tls": {"certFile": "cert-dir", "keyFile": "bad\u0000.key"}})
    with pytest.raises(ConfigValidationError) as raised:
        ServiceConfig.load("server", home)
    problems = raised.value.problems
    assert any(p.startswith("tls.certFile") and "is a folder" in p for p in problems)
    assert any(p.startswith("tls.keyFile") and "not a usable path" in p for p in problems)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_key_is_named(tmp_path: Path, certs: dict[str, Path]) -> None:
    """A key file the service may not read is reported with the OS's reason."""
    key = tmp_path / "locked.key"
    key.write_bytes(certs["key"].read_bytes())
    key.chmod(0)
    home = tmp_path / "h"
    _write(home, {"tls": {"certFile": str(certs["cert"]), "keyFile": str(key)}})
    with pytest.raises(ConfigValidationError, match="tls.keyFile .*cannot be read"):
        ServiceConfig.load("server", home)


def test_half_a_pair_and_a_useless_plain_port_are_refused(tmp_path: Path) -> None:
    """A certificate without a key is refused, and so is a plainPort while TLS is off (the
    sitePort already serves plain http)."""
    home = tmp_path / "h"
    _write(home, {"tls": {"keyFile": "x.key"}})
    with pytest.raises(ConfigValidationError, match="tls.certFile is empty but tls.keyFile"):
        ServiceConfig.load("server", home)
    _write(home, {"httpServer": {"mobile": {"plainPort": 18001}}})
    with pytest.raises(ConfigValidationError, match="httpServer.mobile.plainPort is 18001 but"):
        ServiceConfig.load("client", home)


def test_a_plain_port_equal_to_a_site_port_is_refused(tmp_path: Path,
                                                      certs: dict[str, Path]) -> None:
    """plainPort may not reuse a TLS port of the same service."""
    home = tmp_path / "h"
    _write(home, {"tls": {"certFile": str(certs["cert"]), "keyFile": str(certs["key"])},
                  "httpServer": {"admin": {"sitePort": 18100},
                                 "platform": {"sitePort": 18101, "plainPort": 18100}}})
    with pytest.raises(ConfigValidationError, match="same port as httpServer.admin.sitePort"):
        ServiceConfig.load("server", home)


@pytest.mark.parametrize("service", ["client", "agent", "worker"])
def test_a_ca_without_tls_is_refused_never_downgraded(service: str, tmp_path: Path,
                                                      certs: dict[str, Path]) -> None:
    """peekServer.caFile with peekServer.tls false would connect plain ws:// and send the
    token in clear: the config is refused instead."""
    home = tmp_path / "h"
    _write(home, {"peekServer": {"caFile": str(certs["ca"])}})
    with pytest.raises(ConfigValidationError, match="peekServer.caFile is set but peekServer.tls"):
        ServiceConfig.load(service, home)


def test_a_ca_file_without_certificates_is_refused(tmp_path: Path) -> None:
    """A CA file holding no PEM certificate is named."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN NOTHING-----\n")
    home = tmp_path / "h"
    _write(home, {"peekServer": {"tls": True, "caFile": str(ca)}})
    with pytest.raises(ConfigValidationError, match=r"peekServer.caFile \(.*\): holds no PEM"):
        ServiceConfig.load("agent", home)


def test_check_config_reports_tls_problems_and_exits_78(tmp_path: Path) -> None:
    """``--check-config`` reports a missing certificate like any invalid setting (exit 78)."""
    home = tmp_path / "h"
    _write(home, {"tls": {"certFile": "missing.pem", "keyFile": "missing.key"}})
    done = subprocess.run([sys.executable, "-m", "peek_server", "--home", str(home),
                           "--check-config"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 78, done.stderr
    assert "tls.certFile" in done.stderr + done.stdout
    assert "tls.keyFile" in done.stderr + done.stdout
