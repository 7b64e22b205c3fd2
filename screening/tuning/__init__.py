"""Rule tuning for staff: drafts, tests, dry runs against past submissions, publishing and roll-back."""
