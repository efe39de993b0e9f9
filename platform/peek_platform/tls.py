"""TLS for the sites (https, wss) and the service connections, and development certificates.

A service that accepts connections (server, client) serves its sites over TLS when
``tls.certFile`` and ``tls.keyFile`` are set in its config.json; each site's ``sitePort``
is then https (and wss for the bus), and ``httpServer.<site>.plainPort`` may also serve plain
http during a migration. A connecting service (client, agent, worker) uses ``wss://`` when
``peekServer.tls`` is true and verifies the server's certificate against ``peekServer.caFile``
(or the system's trusted CAs when that is empty), including the host name in
``peekServer.host``. Relative paths are relative to the service's home.

``peek_dev_certs DIR`` (or ``python -m peek_platform.tls DIR``) writes a development CA and a
server certificate for 127.0.0.1 and localhost; see docs/deployment.md.
"""

import argparse
import datetime
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from peek_platform.errors import TlsError
from peek_vortex.transport import verifying_tls_options

#: The keys naming TLS files, per side.
CERT_KEY = "tls.certFile"
KEY_KEY = "tls.keyFile"
CA_KEY = "peekServer.caFile"
CLIENT_TLS_KEY = "peekServer.tls"

#: File names ``peek_dev_certs`` writes.
DEV_CA_CERT = "ca.pem"
DEV_CA_KEY = "ca.key"
DEV_SERVER_CERT = "server.pem"
DEV_SERVER_KEY = "server.key"
DEV_HOSTS = ("127.0.0.1", "localhost")


def resolve_path(home: Path, value: str) -> Path:
    """A configured file path: absolute as given, relative to the service home otherwise."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else home / path


def _read(setting: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsError(setting, path, "no such file") from None
    except IsADirectoryError:
        raise TlsError(setting, path, "is a folder, not a PEM file") from None
    except OSError as e:
        raise TlsError(setting, path, f"cannot be read: {e.strerror or e}") from None
    except ValueError as e:  # a NUL in the path
        raise TlsError(setting, path, f"is not a usable path: {e}") from None


def _load_certificates(setting: str, path: Path) -> list[Any]:
    """The PEM certificates in the file (at least one), as cryptography objects."""
    from cryptography import x509

    data = _read(setting, path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise TlsError(setting, path, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return certs


def _load_key(setting: str, path: Path) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read(setting, path)
    try:
        return load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsError(setting, path, "the private key is encrypted; the service needs it "
                       "unencrypted (protect it with file permissions, 0600)") from None
    except (ValueError, Exception) as e:  # cryptography raises ValueError or UnsupportedAlgorithm
        raise TlsError(setting, path, f"holds no usable PEM private key ({e})") from None


def _public_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def server_files_problems(home: Path, cert_value: str, key_value: str) -> list[str]:
    """Every problem of the ``tls.certFile`` / ``tls.keyFile`` pair (empty: usable or off)."""
    if not cert_value and not key_value:
        return []
    if not cert_value or not key_value:
        missing = CERT_KEY if not cert_value else KEY_KEY
        given = KEY_KEY if not cert_value else CERT_KEY
        return [f"{missing} is empty but {given} is set; TLS needs both (or neither)"]
    problems: list[str] = []
    cert_path = resolve_path(home, cert_value)
    key_path = resolve_path(home, key_value)
    certs = key = None
    try:
        certs = _load_certificates(CERT_KEY, cert_path)
    except TlsError as e:
        problems.append(str(e))
    try:
        key = _load_key(KEY_KEY, key_path)
    except TlsError as e:
        problems.append(str(e))
    if certs and key is not None:
        if _public_bytes(certs[0].public_key()) != _public_bytes(key.public_key()):
            problems.append(
                f"{KEY_KEY} ({key_path}) does not match the certificate in {CERT_KEY} "
                f"({cert_path}): the key belongs to another certificate")
    return problems


def ca_file_problems(home: Path, ca_value: str) -> list[str]:
    """The problem of ``peekServer.caFile``, if any (empty value: system CAs, no problem)."""
    if not ca_value:
        return []
    try:
        _load_certificates(CA_KEY, resolve_path(home, ca_value))
    except TlsError as e:
        return [str(e)]
    return []


def server_tls_options(home: Path, cert_value: str, key_value: str) -> Any:
    """Twisted's CertificateOptions for a listening site (TLS 1.2 or newer).

    The certificate file may carry the chain after the server's certificate; it is sent too.
    """
    from twisted.internet import ssl

    problems = server_files_problems(home, cert_value, key_value)
    if problems:
        raise TlsError(CERT_KEY, resolve_path(home, cert_value), "; ".join(problems))
    # cryptography objects: pyOpenSSL deprecates its own X509/PKey wrappers.
    certs = _load_certificates(CERT_KEY, resolve_path(home, cert_value))
    key = _load_key(KEY_KEY, resolve_path(home, key_value))
    return ssl.CertificateOptions(
        privateKey=key,
        certificate=certs[0],
        extraCertChain=certs[1:],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )


def client_tls_options(host: str, ca_path: Optional[Path]) -> Any:
    """Twisted's client TLS creator for ``host``: checks the chain and the host name.

    ``ca_path`` None trusts the system's CAs; otherwise only the certificates in that file.
    """
    if ca_path is None:
        return verifying_tls_options(host, None)
    from cryptography.hazmat.primitives.serialization import Encoding
    from twisted.internet import ssl

    certs = _load_certificates(CA_KEY, ca_path)
    return verifying_tls_options(
        host, [ssl.Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certs])


def request_is_secure(request: Any) -> bool:
    """Whether a twisted.web request arrived over TLS (https or wss) on this service.

    Use it to mark cookies ``Secure``. It reflects this hop only: behind a TLS-terminating
    proxy the request is plain http here.
    """
    return bool(request.isSecure())


# ---------------------------------------------------------------------------
# Development certificates


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only (0600), never briefly wider."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def write_dev_certs(folder: Path, hosts: Sequence[str] = DEV_HOSTS, days: int = 825,
                    name: str = "server") -> dict[str, Path]:
    """Write (or reuse) a development CA in ``folder`` and a server certificate for ``hosts``.

    Files: ``ca.pem`` and ``ca.key`` (kept when both exist, so certificates made later are
    trusted by services that already have ``ca.pem``), ``<name>.pem`` and ``<name>.key``.
    Keys are written 0600. Returns the paths by role: ``ca``, ``ca_key``, ``cert``, ``key``.
    Never use these in production: the CA key sits beside the certificates.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not hosts:
        raise ValueError("at least one host name or IP address is needed")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    ca_cert_path, ca_key_path = folder / DEV_CA_CERT, folder / DEV_CA_KEY
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
    else:
        ca_key = _new_key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                "Peek development CA (not for production)")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, _pem_key(ca_key))
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {"ca": ca_cert_path, "ca_key": ca_key_path, "cert": cert_path, "key": key_path}


def main(argv: Optional[list[str]] = None) -> int:
    """``peek_dev_certs``: write a development CA and server certificate, print the config."""
    parser = argparse.ArgumentParser(
        prog="peek_dev_certs",
        description="Write a development CA (ca.pem, ca.key) and a server certificate "
        "(server.pem, server.key; keys 0600) into FOLDER, for trying TLS locally. An existing "
        "CA in FOLDER is reused. Not for production: the CA key sits beside the certificates.",
    )
    parser.add_argument("folder", type=Path, help="where to write the files")
    parser.add_argument("--host", action="append", dest="hosts", metavar="NAME",
                        help="a host name or IP address the certificate is for (repeatable; "
                        f"default: {' and '.join(DEV_HOSTS)})")
    parser.add_argument("--name", default="server",
                        help="base name of the certificate and key files (default: server)")
    parser.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    args = parser.parse_args(argv)
    try:
        paths = write_dev_certs(args.folder.absolute(), args.hosts or DEV_HOSTS, args.days,
                                args.name)
    except (OSError, ValueError) as e:
        print(f"peek_dev_certs: {e}", file=sys.stderr)
        return 1
    print(f"CA certificate: {paths['ca']}\nserver certificate: {paths['cert']}\n"
          f"server key (0600): {paths['key']}\n\n"
          "server and client config.json:\n"
          f'  "tls": {{"certFile": "{paths["cert"]}", "keyFile": "{paths["key"]}"}}\n'
          "client, agent and worker config.json:\n"
          f'  "peekServer": {{"tls": true, "caFile": "{paths["ca"]}"}}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
