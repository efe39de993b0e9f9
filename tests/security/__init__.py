"""Regression tests for the attack run on cf1af6c: one module per finding, real processes."""
