"""The rule engine, pure (no Flask, no database): rule files in, decisions out.

``loader`` reads the files within limits, ``compiler`` compiles conditions with their cost bounded,
``safety`` decides safety before every rule, ``evaluation`` evaluates, ``cases`` runs test cases and
the probe, ``dry_run`` compares two rule sets (``dry_run_comparison`` holds what it found), and
``budget`` evaluates untrusted text in bounded child processes.
"""
