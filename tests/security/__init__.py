"""Regression tests for the findings of the attack run on cf1af6c: one module per finding,
real processes and sockets."""
