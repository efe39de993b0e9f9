"""Tests of the bus core: tuples, codec, payloads and routing."""
