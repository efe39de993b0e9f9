"""The sysinfo plugin's private code: other plugins must not import it."""
