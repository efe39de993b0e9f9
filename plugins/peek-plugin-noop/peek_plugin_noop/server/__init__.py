"""The parts of the noop plugin other plugins may use on the server service."""
