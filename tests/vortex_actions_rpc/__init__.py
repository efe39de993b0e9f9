"""Tests of bus actions (processor, proxy, push client) and @vortexRPC over the in-memory bus."""
