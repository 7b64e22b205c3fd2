"""The ``rules`` commands."""
