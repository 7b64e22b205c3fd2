"""The rule engine, pure (no Flask, no database): rule files in, decisions out.

``loader`` reads the files within limits, ``compiler`` compiles conditions with their cost bounded,
``safety`` decides safety before every rule, ``safety_lock`` refuses files whose copy of it differs,
``evaluation`` evaluates, ``cases`` runs test cases and the probe, ``dry_run`` compares two rule sets
(``dry_run_comparison`` holds what it found), and ``budget`` bounds untrusted text evaluated in child
processes: ``bounded_child`` is the child's side, ``bounded_pool`` the parent's, and ``bounded_check`` what a
check evaluates there.
"""
