"""``python -m peek_worker`` runs the worker service."""

from peek_worker.main import main

main()
