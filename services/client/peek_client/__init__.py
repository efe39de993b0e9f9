"""The Peek client service: serves devices on the mobile and desktop sites (later: bus proxy)."""
