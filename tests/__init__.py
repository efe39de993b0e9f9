"""Tests of the Peek platform, one folder per area."""
