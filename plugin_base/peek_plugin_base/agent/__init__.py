"""The plugin contract for the agent service."""
