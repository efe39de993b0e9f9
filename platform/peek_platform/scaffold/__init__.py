"""``peek_plugin new``: writes a ready plugin distribution (see ``cli``)."""
