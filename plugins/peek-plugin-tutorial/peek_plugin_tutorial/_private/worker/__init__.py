"""The tutorial plugin's code for the worker service."""
