"""End-to-end tests: real run_peek_* processes, with Python devices and bus clients."""
