"""Clinic sign-in: the sign-in pages, accounts and sessions, and the role guard of the clinic blueprints."""
