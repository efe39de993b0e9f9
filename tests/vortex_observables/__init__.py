"""Tests of observable data: handler, client-service proxy and observer client over MemoryVortex."""
