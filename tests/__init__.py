"""The platform's tests, one folder per area."""
