"""Tests of the plugin-author test helpers."""
