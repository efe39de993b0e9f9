"""Storage tests: per-plugin schemas and migrations on SQLite and PostgreSQL."""
