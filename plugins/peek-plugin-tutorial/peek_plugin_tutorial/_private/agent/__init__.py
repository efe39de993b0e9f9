"""The tutorial plugin's code for the agent service."""
