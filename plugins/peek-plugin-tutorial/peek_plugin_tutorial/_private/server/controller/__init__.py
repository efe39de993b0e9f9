"""Controllers: the tutorial's server-side logic (processing actions, changing data)."""
