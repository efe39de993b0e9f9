"""The Peek server service: plugin host, admin site and platform site (later: bus hub, DB)."""
