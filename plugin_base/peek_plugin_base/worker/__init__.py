"""The plugin contract for the worker service."""
