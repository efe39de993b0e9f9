"""Tests of JSON endpoint plugins, per-plugin parameters and the control routes."""
