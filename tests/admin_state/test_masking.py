"""Secrets in a service's config never reach the admin state."""

from peek_platform.admin_state.reporter import MASK, mask_secrets


def test_secret_keys_and_url_passwords_are_masked() -> None:
    """Keys named like a password, token, secret or key are replaced (at any depth), URL
    passwords are replaced wherever they appear, and other values are kept as they are."""
    config = {
        "peekServer": {"token": "t0ps3cret", "host": "127.0.0.1", "tokenFile": "/x/platform.token"},
        "sqlalchemy": {"connectUrl": "postgresql+psycopg://peek:hunter2@db:5432/peek"},
        "celery": {"brokerUrl": "amqp://guest:guestpw@localhost/vh", "resultUrl": "redis://x/1"},
        "plugin": {"enabled": ["a", "b"], "params": {"a": {"API_KEY": "k", "dbPassword": "p",
                                                             "clientSecret": "s", "n": 3}}},
        "vortex": {"deviceToken": ""},
    }
    masked = mask_secrets(config)
    text = repr(masked)
    for secret in ("t0ps3cret", "hunter2", "guestpw", "/x/platform.token"):
        assert secret not in text
    assert masked["peekServer"] == {"token": MASK, "host": "127.0.0.1", "tokenFile": MASK}
    assert masked["sqlalchemy"]["connectUrl"] == f"postgresql+psycopg://peek:{MASK}@db:5432/peek"
    assert masked["celery"]["resultUrl"] == "redis://x/1"
    assert masked["plugin"]["params"]["a"] == {"API_KEY": MASK, "dbPassword": MASK,
                                               "clientSecret": MASK, "n": 3}
    assert masked["plugin"]["enabled"] == ["a", "b"]
    # An empty secret says "not set", which an admin needs to see.
    assert masked["vortex"]["deviceToken"] == ""
    assert config["peekServer"]["token"] == "t0ps3cret"  # the original is untouched
