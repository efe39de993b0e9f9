"""The tutorial plugin's code for the client service."""
