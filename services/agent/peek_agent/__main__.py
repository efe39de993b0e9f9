"""``python -m peek_agent`` runs the agent service."""

from peek_agent.main import main

main()
