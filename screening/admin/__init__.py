"""User management: the admin blueprint (``views``) and the account services it shares with the CLI."""
