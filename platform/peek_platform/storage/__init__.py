"""The server's storage runner: the platform schema, per-plugin migrations, the dev command."""
