"""A folder put on the worker's PYTHONPATH so it can load the test plugin below."""
