"""Regression tests for the findings of the attack run on cf1af6c.

One module per finding, with real processes and sockets.
"""
