"""The platform's tests."""
