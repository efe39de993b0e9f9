"""The platform test suite, one folder per area."""
