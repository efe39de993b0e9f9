"""The tutorial's RPC declarations: imported by the side that serves them and the side that
calls them (server, agent), so neither imports the other's private modules."""
