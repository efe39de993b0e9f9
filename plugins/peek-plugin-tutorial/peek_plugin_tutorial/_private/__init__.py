"""Code private to the tutorial plugin."""
