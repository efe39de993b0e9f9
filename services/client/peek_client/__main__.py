"""``python -m peek_client`` runs the client service."""

from peek_client.main import main

main()
