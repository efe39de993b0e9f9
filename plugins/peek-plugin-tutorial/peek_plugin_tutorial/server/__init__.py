"""The tutorial's public server-side API: what other server plugins may import and use."""
