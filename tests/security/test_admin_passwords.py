"""Admin password hashes: scrypt with a salt per password and the parameters kept with it."""

from peek_platform.admin.passwords import SCRYPT_N, hash_password, verify_password


def test_hashes_are_salted_and_carry_their_parameters() -> None:
    """The same password hashes differently each time, the hash holds scrypt's parameters
    and salt and never the password, and only the right password verifies."""
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    scheme, n, r, p, salt, key = first.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", SCRYPT_N, 8, 1)
    assert "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsf", first)
    assert not verify_password("", first)


def test_tampered_or_malformed_hashes_match_nothing() -> None:
    """A stored hash that is malformed, of another scheme, or asks for more memory than
    allowed (a tampered row) verifies no password and raises nothing."""
    good = hash_password("pw-1234567890")
    scheme, n, r, p, salt, key = good.split("$")
    for stored in ("", "plain", good.replace("scrypt", "md5"),
                   f"{scheme}$1048576$64${p}${salt}${key}",       # ~8 GiB of memory
                   f"{scheme}${n}${r}${p}$not-base64!${key}", f"{scheme}$x${r}${p}${salt}${key}",
                   good + "$extra"):
        assert not verify_password("pw-1234567890", stored), stored
