"""Load a rule set from its files: parse, check structure, compile conditions, lock safety.

Every problem is collected and reported at once as ``file:line:col: rule-id: message``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from typing import TypeVar

from pydantic import BaseModel
from pydantic import ValidationError

from ..answers import parse_answers
from ..errors import AnswersError
from . import tables as t
from .compiler import ConditionError
from .compiler import compile_condition
from .model import NO_RULE
from .model import Case
from .model import Rule
from .model import RuleError
from .model import RuleSet
from .model import RuleSetInvalid
from .safety_lock import check_safety_lock
from .sourcemap import Document
from .sourcemap import YamlProblem
from .sourcemap import parse
from .spec import BASELINE_FILE
from .spec import OUTCOMES_FILE
from .spec import OutcomesSpec
from .spec import RuleFileSpec

Sources = dict[str, str]
Spec = TypeVar("Spec", bound=BaseModel)
#: The most characters one rule file may have; below the app's request size limit, so an oversized file
#: saved in the browser gets this message, not the 413 page.
FILE_MAX = 50_000
#: The most files a rule set may have. The shipped rules/ has 10; a hundred leaves room for any clinic's
#: rules while bounding what every check, save and worker start parses.
FILES_MAX = 100
#: The most characters all files of a rule set may have together. The shipped rules/ has about 27,000;
#: half a million is near twenty times that, and keeps a full check of the largest rule set short.
SOURCES_MAX = 500_000
_FIELD_PART = re.compile(r"([a-z_0-9]+)|\[(\d+)\]")


def read_sources(directory: Path) -> Sources:
    """Return the text of every .yaml file under ``directory``, keyed by relative path."""
    return {
        path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*.yaml"))
        if path.is_file()
    }


def version_of(sources: Sources) -> str:
    """Return the content hash that names a rule set version."""
    canonical = json.dumps(sorted(sources.items()), ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def limit_problems(sources: Sources) -> list[RuleError]:
    """Return why ``sources`` are too large to read (too many files, a file or all of them too long), if they are.

    The one place the size limits of a rule set are checked: the loader, the draft editor and the CLI call it
    before any text is parsed.
    """
    problems = [
        RuleError(
            name, 1, 1, NO_RULE, f"the file is {len(text):,} characters long; a rule file may have at most {FILE_MAX:,}"
        )
        for name, text in sorted(sources.items())
        if len(text) > FILE_MAX
    ]
    if len(sources) > FILES_MAX:
        problems.append(
            RuleError(
                OUTCOMES_FILE,
                1,
                1,
                NO_RULE,
                f"the rule set has {len(sources):,} files; it may have at most {FILES_MAX:,}",
            )
        )
    total = sum(len(text) for text in sources.values())
    if total > SOURCES_MAX:
        problems.append(
            RuleError(
                OUTCOMES_FILE,
                1,
                1,
                NO_RULE,
                f"the rule set's files have {total:,} characters together; they may have at most {SOURCES_MAX:,}",
            )
        )
    return problems


class _Loader:
    """Collects the errors of one load."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.errors: list[RuleError] = []
        self.documents: dict[str, Document] = {}

    def error(self, file: str, path: tuple[str | int, ...], rule: str, message: str, *, at_key: bool = False) -> None:
        """Record an error at the value (or, with ``at_key``, the key) found at ``path`` in ``file``."""
        document = self.documents.get(file)
        if document is None:
            line, column = 1, 1
        else:
            line, column = document.key_position(path) if at_key else document.position(path)
        self.errors.append(RuleError(file, line, column, rule, message))

    def document(self, file: str) -> Document | None:
        """Parse one file, recording a YAML error."""
        if file not in self.sources:
            self.errors.append(RuleError(file, 1, 1, NO_RULE, "file is missing"))
            return None
        try:
            self.documents[file] = parse(self.sources[file])
        except YamlProblem as problem:
            self.errors.append(RuleError(file, problem.line, problem.column, NO_RULE, problem.message))
            return None
        return self.documents[file]

    def spec(self, file: str, model: type[Spec]) -> Spec | None:
        """Validate a parsed file against its pydantic model, recording each error."""
        document = self.document(file)
        if document is None:
            return None
        try:
            return model.model_validate(document.data if document.data is not None else {})
        except ValidationError as invalid:
            for problem in invalid.errors():
                loc = tuple(problem["loc"])
                extra = problem["type"] == "extra_forbidden"
                self.error(file, loc, _rule_id(document.data, loc), _message(problem), at_key=extra)
            return None


def _rule_id(data: Any, loc: tuple[str | int, ...]) -> str:
    """Return the id of the rule an error sits in, if any."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(data, dict):
        rules = data.get("rules")
        if (
            isinstance(rules, list)
            and isinstance(loc[1], int)
            and loc[1] < len(rules)
            and isinstance(rules[loc[1]], dict)
        ):
            return str(rules[loc[1]].get("id", NO_RULE))
    return NO_RULE


def _message(problem: Any) -> str:
    """Return a pydantic error as a short sentence."""
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "missing":
        return f"'{problem['loc'][-1]}' is required"
    if problem["type"] == "extra_forbidden":
        return f"unknown key '{problem['loc'][-1]}'"
    return message


def load_ruleset(sources: Sources) -> RuleSet:
    """Load a rule set from its sources; raise RuleSetInvalid listing every problem.

    Sources beyond the limits of ``limit_problems`` are refused before any of them is parsed.
    """
    too_large = limit_problems(sources)
    if too_large:
        raise RuleSetInvalid(too_large)
    loader = _Loader(sources)
    outcomes = loader.spec(OUTCOMES_FILE, OutcomesSpec)
    tables = _load_tables(loader)
    baseline = _load_baseline(loader)
    rules, cases = _load_rule_files(loader, outcomes)
    if outcomes is not None:
        check_safety_lock(loader, rules, outcomes)
    if loader.errors or outcomes is None or tables is None or baseline is None:
        raise RuleSetInvalid(loader.errors)
    return RuleSet(
        version=version_of(sources),
        sources=dict(sources),
        rules=tuple(rules),
        outcomes=dict(outcomes.outcomes),
        default_outcome=outcomes.default,
        error_outcome=outcomes.error,
        tables=tables,
        baseline=baseline,
        cases=tuple(cases),
    )


def _load_tables(loader: _Loader) -> t.Tables | None:
    """Load the clinical tables."""
    doses = loader.spec(t.ANTIDEPRESSANTS, t.AntidepressantTable)
    trd = loader.spec(t.TRD, t.TrdSettings)
    contraindications = loader.spec(t.CONTRAINDICATIONS, t.ContraindicationTable)
    if doses is None or trd is None or contraindications is None:
        return None
    return t.Tables(dict(doses.minimum_dose_mg_per_day), trd, frozenset(contraindications.needs_review))


def _load_baseline(loader: _Loader) -> dict[str, Any] | None:
    """Load the baseline answers document that test cases change."""
    document = loader.document(BASELINE_FILE)
    if document is None:
        return None
    try:
        return parse_answers(document.data).to_document()
    except AnswersError as error:
        loader.error(BASELINE_FILE, field_path(error.field), NO_RULE, f"{error.field}: {error.reason}")
        return None


def field_path(field: str) -> tuple[str | int, ...]:
    """Turn an answers field name such as ``medication_trials[0].drug`` into a YAML path."""
    return tuple(int(index) if index else name for name, index in _FIELD_PART.findall(field))


def _load_rule_files(loader: _Loader, outcomes: OutcomesSpec | None) -> tuple[list[Rule], list[Case]]:
    """Load every rule file: structure, conditions, outcomes, unique ids, test cases."""
    rules: list[Rule] = []
    cases: list[Case] = []
    declared: dict[str, str] = {}
    all_read = True
    fixed = {OUTCOMES_FILE, BASELINE_FILE, *t.TABLE_FILES}
    for file in sorted(name for name in loader.sources if name not in fixed):
        spec = loader.spec(file, RuleFileSpec)
        if spec is None:
            all_read = False
            continue
        rules.extend(_compile_rules(loader, file, spec, outcomes, declared))
        document = loader.documents[file]
        cases.extend(Case(case, file, i, document.position(("tests", i))[0]) for i, case in enumerate(spec.tests))
    for case in cases:  # a file that could not be read may declare the rules a case expects
        _check_case(loader, case, set(declared) if all_read else None, outcomes)
    return rules, cases


def _compile_rules(
    loader: _Loader, file: str, spec: RuleFileSpec, outcomes: OutcomesSpec | None, seen: dict[str, str]
) -> list[Rule]:
    """Compile the rules of one file, recording the errors of each."""
    compiled = []
    document = loader.documents[file]
    for index, rule in enumerate(spec.rules):
        where = ("rules", index)
        if rule.id in seen:
            loader.error(file, (*where, "id"), rule.id, f"duplicate rule id (also in {seen[rule.id]})")
        seen[rule.id] = file
        try:
            condition = compile_condition(rule.when)
        except ConditionError as error:
            line, column = document.position_in_scalar((*where, "when"), error.offset)
            loader.errors.append(RuleError(file, line, column, rule.id, error.message))
            continue
        _check_outcome(loader, file, where, rule.id, rule.outcome, outcomes)
        line, column = document.position((*where, "when"))
        compiled.append(
            Rule(rule.id, rule.description, condition, rule.outcome, tuple(rule.notes), file, index, line, column)
        )
    return compiled


def _check_outcome(
    loader: _Loader,
    file: str,
    where: tuple[str | int, ...],
    rule: str,
    outcome: str | None,
    outcomes: OutcomesSpec | None,
) -> None:
    """Record a rule outcome that is not declared or is kept for errors."""
    if outcomes is None or outcome is None:
        return
    if outcome not in outcomes.outcomes:
        loader.error(file, (*where, "outcome"), rule, f"unknown outcome '{outcome}'")
    elif outcome == outcomes.error:
        loader.error(
            file, (*where, "outcome"), rule, f"'{outcome}' is kept for evaluation errors; no rule may produce it"
        )


def _check_case(loader: _Loader, case: Case, known_rules: set[str] | None, outcomes: OutcomesSpec | None) -> None:
    """Record test cases that expect rules or outcomes that do not exist."""
    where = ("tests", case.index, "expect")
    name = case.spec.name
    for position, rule_id in enumerate(case.spec.expect.fired):
        if known_rules is not None and rule_id not in known_rules:
            loader.error(
                case.file, (*where, "fired", position), NO_RULE, f"test '{name}' expects unknown rule '{rule_id}'"
            )
    if outcomes is not None and case.spec.expect.outcome not in outcomes.outcomes:
        loader.error(
            case.file,
            (*where, "outcome"),
            NO_RULE,
            f"test '{name}' expects unknown outcome '{case.spec.expect.outcome}'",
        )
