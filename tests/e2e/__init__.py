"""End-to-end tests: real run_peek_* processes talking over the bus."""
