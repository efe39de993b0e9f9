"""The plugin contract for the client service."""
