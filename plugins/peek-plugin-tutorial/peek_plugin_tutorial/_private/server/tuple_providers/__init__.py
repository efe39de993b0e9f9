"""Tuple providers: what the tutorial's observable serves, one provider per tuple type."""
