"""The server's admin site: accounts, login sessions, CSRF, and the session-gated admin bus."""
