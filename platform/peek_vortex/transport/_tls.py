"""TLS for the bus client: a verifying client context, and a clear sentence for a failed
handshake (the platform reads certificate files and settings, then calls these)."""

from collections.abc import Sequence
from typing import Any, Optional


def verifying_tls_options(host: str, trust: Optional[Sequence[Any]]) -> Any:
    """Twisted's client TLS creator for ``host``: checks the chain and the host name,
    TLS 1.2 or newer. ``trust`` None trusts the system's CAs; otherwise only those
    ``twisted.internet.ssl.Certificate`` objects."""
    from twisted.internet import ssl

    roots = ssl.platformTrust() if trust is None else ssl.trustRootFromCertificates(list(trust))
    return ssl.optionsForClientTLS(host, trustRoot=roots, extraCertificateOptions={
        "raiseMinimumTo": ssl.TLSVersion.TLSv1_2})


def describe_tls_failure(reason: Any, host: str, ca_label: str) -> Optional[str]:
    """A clear sentence for a TLS handshake that failed, or None if ``reason`` is not one.

    ``reason`` is the Failure a TLS connection was lost with; ``ca_label`` says what the
    chain was checked against (a file, or the system's CAs).
    """
    from OpenSSL import SSL
    from service_identity import VerificationError

    if reason is None:
        return None
    if reason.check(VerificationError):
        mismatches = ", ".join(str(e) for e in getattr(reason.value, "errors", [])) or str(
            reason.value)
        return (f"TLS: the server's certificate is not valid for the host name {host!r} "
                f"(hostname verification failed: {mismatches}); the platform token was not "
                "sent")
    if reason.check(SSL.Error):
        text = _ssl_error_text(reason.value)
        if "certificate" in text:
            return (f"TLS: the server's certificate failed verification against {ca_label}: "
                    f"{text} (signed by another CA, self-signed, expired or not yet valid); "
                    "the platform token was not sent")
        return f"TLS handshake with {host} failed: {text}; the platform token was not sent"
    return None


def _ssl_error_text(error: Any) -> str:
    """OpenSSL's reasons (its error is a list of (library, function, reason) tuples)."""
    entries = error.args[0] if error.args and isinstance(error.args[0], list) else []
    parts = [str(e[-1]) for e in entries if isinstance(e, tuple) and e and e[-1]]
    return ", ".join(parts) or str(error)
