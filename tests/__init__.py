"""The platform test suite."""
