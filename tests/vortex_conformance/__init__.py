"""One set of bus cases run on the in-memory bus and on real websockets: both behave alike."""
