"""The Peek plugin contract: everything a plugin imports from the platform.

Module paths and class names follow the original platform's API reference so plugins
written from its tutorial keep working; the classes are our own.
"""
