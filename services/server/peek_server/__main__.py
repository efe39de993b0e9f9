"""``python -m peek_server`` runs the server service."""

from peek_server.main import main

main()
