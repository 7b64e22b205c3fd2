"""A dry run as pages and the command line show it: progress, counts per outcome, transitions, changes.

Read-only: nothing here changes a run. ``report`` reads the counts and only the changes asked for
(a page's worth), and leaves out the fact values of individual patients for the roles not in
``dry_run_store.FACT_ROLES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace

from sqlalchemy import orm

from ..engine.dry_run_comparison import Change
from ..engine.dry_run_comparison import Comparison
from ..models import BacktestRun
from .dry_run_store import DONE
from .dry_run_store import stored_changes
from .dry_run_store import stored_counts


def percent_done(run: BacktestRun) -> int:
    """Return how far a run is, 0 to 100."""
    if run.status == DONE:
        return 100
    return min(100, run.processed * 100 // run.total) if run.total else 0


@dataclass(frozen=True)
class OutcomeRow:
    """How many submissions get one outcome before and after."""

    outcome: str
    before: int
    after: int

    @property
    def difference(self) -> int:
        """Return after minus before."""
        return self.after - self.before


@dataclass(frozen=True)
class TransitionRow:
    """How many submissions go from one outcome to another (or keep theirs)."""

    before: str
    after: str
    count: int

    @property
    def changed(self) -> bool:
        """Return True when the outcome changes."""
        return self.before != self.after


@dataclass(frozen=True)
class Report:
    """A finished dry run as pages and the command line show it.

    ``changes`` holds the changed submissions read (all of them, or one page's); ``changes_kept`` counts
    those the run kept, ``changed_total`` all that changed.
    """

    candidate_version: str
    against_version: str
    total: int
    outcomes: tuple[OutcomeRow, ...]
    transitions: tuple[TransitionRow, ...]
    changes: tuple[Change, ...]
    changed_total: int
    errors_before: int
    errors_after: int
    changes_kept: int = 0

    @property
    def truncated(self) -> bool:
        """Return True when more submissions changed than the list keeps."""
        return self.changed_total > self.changes_kept

    @property
    def truncation_note(self) -> str | None:
        """Return the sentence that says the list is cut short, or None when it is complete."""
        if not self.truncated:
            return None
        return f"Showing the first {self.changes_kept:,} of {self.changed_total:,} changed submissions."

    def without_facts(self) -> Report:
        """Return the report with no fact value of any patient: references, outcomes and rules stay."""
        changes = tuple(replace(change, facts={}, facts_changed={}) for change in self.changes)
        return replace(self, changes=changes)

    @classmethod
    def of(cls, comparison: Comparison) -> Report:
        """Return the report of a comparison: outcomes by the candidate's rank, changed transitions first."""
        rank = {outcome: position for position, outcome in enumerate(comparison.outcomes)}
        outcomes = tuple(
            OutcomeRow(outcome, comparison.before.get(outcome, 0), comparison.after.get(outcome, 0))
            for outcome in (*comparison.outcomes, *_unlisted(comparison))
        )
        transitions = sorted(
            (TransitionRow(before, after, count) for (before, after), count in comparison.transitions.items()),
            key=lambda row: (
                not row.changed,
                -row.count if row.changed else 0,
                rank.get(row.before, len(rank)),
                rank.get(row.after, len(rank)),
            ),
        )
        return cls(
            candidate_version=comparison.candidate_version,
            against_version=comparison.against_version,
            total=comparison.total,
            outcomes=outcomes,
            transitions=tuple(transitions),
            changes=comparison.changes,
            changed_total=comparison.changed_total,
            errors_before=comparison.errors_before,
            errors_after=comparison.errors_after,
            changes_kept=len(comparison.changes),
        )


def _unlisted(comparison: Comparison) -> list[str]:
    """Return outcomes counted but missing from the comparison's list (never expected; shown rather than lost)."""
    counted = [*comparison.before, *comparison.after]
    return [outcome for outcome in dict.fromkeys(counted) if outcome not in comparison.outcomes]


def report(
    session: orm.Session, run: BacktestRun, *, with_facts: bool = True, changes: slice | None = None
) -> Report | None:
    """Return the report of a finished run, or None while it is queued, running or failed.

    ``changes`` (a slice of positions, from 0) reads only those changes; None reads them all.
    ``with_facts`` False leaves out the fact values of individual patients (for roles not in FACT_ROLES).
    """
    counted = stored_counts(run)
    if counted is None:
        return None
    comparison, kept = counted
    found = replace(Report.of(comparison), changes=stored_changes(session, run.id, changes), changes_kept=kept)
    return found if with_facts else found.without_facts()
