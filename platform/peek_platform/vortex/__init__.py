"""The platform side of the bus: the websocket transport (``transport``) under the router."""
