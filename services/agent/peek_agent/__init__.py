"""The Peek agent service: hosts plugins that integrate external systems."""
