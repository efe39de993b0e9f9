"""The plugin contract for the server service."""
