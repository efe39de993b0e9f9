"""The runtime shared by the Peek services: config, logging, plugin host, service tree, sites."""
