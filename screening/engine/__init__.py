"""The rule engine, pure (no Flask, no database): rule files in, decisions out.

``loader`` reads the files within limits, ``compiler`` compiles conditions with their cost bounded,
``safety`` decides safety before every rule, ``safety_lock`` refuses files whose copy of it differs,
``evaluation`` evaluates, ``cases`` runs test cases and the probe, ``dry_run`` compares two rule sets,
and ``budget`` evaluates untrusted text in bounded child processes.
"""
