"""Tests of the worker service, the task caller and the embedded broker."""
