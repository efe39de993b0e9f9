"""Tests of the bus websocket transport over real sockets on 127.0.0.1."""
