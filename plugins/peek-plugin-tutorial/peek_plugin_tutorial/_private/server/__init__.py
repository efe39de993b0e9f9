"""The tutorial plugin's code for the server service."""
