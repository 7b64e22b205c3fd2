"""The budget of evaluating untrusted rule text in child processes: its limits, and what reaching one raises.

Rule conditions are written by staff on a live system, so any text a draft, a check or a dry run
evaluates is untrusted: a condition that is legal but slow (a comprehension over a long array
inside another) must not hold a web worker or the task consumer, and must be named to the person
who wrote it. The parent process may parse and compile rule text; everything that evaluates
conditions runs in a child process started from a "forkserver" (never forked from a threaded
web worker holding database connections), with the rule engine already imported in it:

- each evaluation (one rule set on one answers document) has ``evaluation_ms`` of CPU time, after
  which a timer in the child stops it inside the condition being evaluated;
- the child's address space may grow ``memory_mb`` above its size at start;
- a check has ``check_seconds`` and a dry run ``dry_run_seconds`` of wall-clock time in all.

The child records which rule it is evaluating in memory the parent reads, so the parent can name
the rule even when it has to kill the child (at the wall-clock limit, or when an evaluation does
not stop by itself). Every limit that is reached becomes ``Exceeded``, which names the rule at its
``file:line:col``.

The child's side (its timer, its memory limit, the record of the rule it evaluates) is
``bounded_child``; the parent's side, ``BoundedPool``, which runs any module-level function over
items in such children (dry runs use it with several processes), is ``bounded_pool``.
``bounded_check.evaluate_untrusted`` is the one function that evaluates the untrusted part of a
check; extend it (and ``Untrusted``) for anything else a check must evaluate. This module holds the
limits themselves and what reaching one raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import RuleError
from .spec import OUTCOMES_FILE

#: The settings (``app.config`` keys) and their defaults. An evaluation of the shipped rules takes well under
#: a millisecond, so 200 ms is a condition hundreds of times slower than any the clinic needs, yet short
#: enough for a page to answer at once; 20 s keeps a check inside gunicorn's 30 s request timeout.
EVALUATION_MS_SETTING = "RULES_EVALUATION_MS"
CHECK_SECONDS_SETTING = "RULES_CHECK_LIMIT_SECONDS"
DRY_RUN_SECONDS_SETTING = "RULES_DRY_RUN_SECONDS"
MEMORY_MB_SETTING = "RULES_MEMORY_MB"

#: What a limit that was reached stopped.
TIME = "time"
MEMORY = "memory"
TOTAL = "total"
STOPPED = "stopped"

#: Bytes kept per child for the name of the rule it evaluates.
LABEL_BYTES = 256
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Budget:
    """The limits on evaluating untrusted rule text."""

    evaluation_ms: int = 200
    check_seconds: float = 20.0
    dry_run_seconds: float = 900.0
    memory_mb: int = 512

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Budget:
        """Return the budget an app's settings give (defaults for the settings it lacks)."""
        default = cls()
        return cls(
            evaluation_ms=int(config.get(EVALUATION_MS_SETTING, default.evaluation_ms)),
            check_seconds=float(config.get(CHECK_SECONDS_SETTING, default.check_seconds)),
            dry_run_seconds=float(config.get(DRY_RUN_SECONDS_SETTING, default.dry_run_seconds)),
            memory_mb=int(config.get(MEMORY_MB_SETTING, default.memory_mb)),
        )

    @property
    def evaluation_seconds(self) -> float:
        """Return the time one evaluation may take, in seconds."""
        return self.evaluation_ms / 1000


_configured = Budget()


def configure(budget: Budget) -> None:
    """Set the budget this process uses where a caller gives none (the app does, from its settings)."""
    global _configured
    _configured = budget


def configured() -> Budget:
    """Return the budget this process uses where a caller gives none."""
    return _configured


# --- Where a rule is, and what went over its budget ------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """Where a condition (or a test case) is written: file, line, column and the rule's id."""

    file: str
    line: int
    column: int
    rule: str

    def packed(self) -> bytes:
        """Return the fixed-size form kept in memory shared with the parent."""
        text = _SEPARATOR.join((self.file, str(self.line), str(self.column), self.rule))
        return text.encode("utf-8")[: LABEL_BYTES - 1].ljust(LABEL_BYTES, b"\0")

    @classmethod
    def unpacked(cls, data: bytes) -> Where | None:
        """Read what ``packed`` wrote; None when nothing was recorded."""
        parts = data.rstrip(b"\0").decode("utf-8", "replace").split(_SEPARATOR)
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]), parts[3])


class Exceeded(Exception):
    """Evaluating rule text reached a limit (or its process stopped); names the rule evaluated, when known."""

    def __init__(self, kind: str, where: Where | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.where = where
        self.message = message

    @property
    def lasting(self) -> bool:
        """Return True when the same rule text would reach the limit again (not a run cut short or a lost process)."""
        return self.kind in (TIME, MEMORY)

    def rule_error(self) -> RuleError:
        """Return the problem as a rule error at the rule's ``file:line:col`` (at the top of outcomes.yaml if unknown)."""
        where = self.where or Where(OUTCOMES_FILE, 1, 1, "-")
        return RuleError(where.file, where.line, where.column, where.rule, self.message)

    def __str__(self) -> str:
        return str(self.rule_error()) if self.where is not None else self.message
