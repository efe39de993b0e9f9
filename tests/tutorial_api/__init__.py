"""Tests of the tutorial's RPC and Plugin Python API chapters and of the plugin developer guide."""
