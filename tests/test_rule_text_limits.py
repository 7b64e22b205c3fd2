"""Rule text is untrusted: it is parsed within limits, never raises, and is checked before any database write."""

from __future__ import annotations

import sqlite3
import threading
from itertools import pairwise
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from screening.db import engine_for
from screening.db import new_session
from screening.models import BacktestRun
from screening.models import RuleDraft
from screening.active_rules import require_ruleset
from screening.engine import sourcemap
from screening.active_rules import store
from screening.engine.loader import FILE_MAX
from screening.engine.loader import FILES_MAX
from screening.engine.loader import SOURCES_MAX
from screening.engine.loader import load_ruleset
from screening.engine.loader import read_sources
from screening.engine.model import RuleSetInvalid
from screening.engine.sourcemap import DEPTH_MAX
from screening.engine.sourcemap import VALUES_MAX
from screening.engine.sourcemap import YamlProblem
from screening.engine.sourcemap import parse
from screening.tuning import checks
from screening.tuning import drafts
from screening.tuning.errors import TuningInvalid

from .accounts import Auth
from .accounts import Users
from .conftest import _empty_tables
from .conftest import make_app
from .ruleset_files import copy_rules
from .test_tuning_views import follow
from .test_tuning_views import open_file
from .test_tuning_views import save
from .test_tuning_views import start
from .test_tuning_views import stored_draft
from .test_tuning_views import text_of

RULES = Path(__file__).resolve().parent.parent / "rules"
#: Generous: refusing the bomb takes milliseconds; without limits it takes minutes.
QUICK = 20.0
#: Deterministic and small, so the suite stays fast and CI sees the same examples every run.
PROPERTY = settings(
    derandomize=True, max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def alias_bomb(indent: str = "  ") -> str:
    """Return nine levels of nine aliases (387 million values once expanded) in a few hundred bytes."""
    names = "abcdefghi"
    lines = [f"{indent}a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{indent}{name}: &{name} [{', '.join(['*' + before] * 9)}]" for before, name in pairwise(names)]
    return "\n".join(lines) + "\n"


def with_shared(text: str, shared: str) -> str:
    """Return a rule file with ``shared`` as the body of its ``shared:`` key."""
    return f"shared:\n{shared}{text}"


def in_thread(work: Any, seconds: float = QUICK) -> Any:
    """Run ``work`` in a thread; fail unless it ends within ``seconds``; return its result or raise its error."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# --- Parsing within limits -----------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    text = "shared:\n" + alias_bomb()

    with pytest.raises(YamlProblem) as refused:
        in_thread(lambda: parse(text))

    assert refused.value.message == (
        f"YAML: aliases expand this file to more than {VALUES_MAX:,} values; write the values out or use fewer aliases"
    )
    line = text.splitlines()[refused.value.line - 1]
    assert line.lstrip().startswith(("e:", "f:")) and line[refused.value.column - 1] == "*"


def in_tests(text: str, answers: str) -> str:
    """Return a rule file with one more test case whose answers are ``answers``."""
    return text + "  - name: many answers\n    expect: {outcome: candidate}\n    answers:\n" + answers


@pytest.mark.parametrize(
    "where", [lambda text: with_shared(text, alias_bomb()), lambda text: in_tests(text, alias_bomb(" " * 6))]
)
def test_a_rule_set_with_a_bomb_in_a_rule_file_or_its_tests_does_not_load(where: Any) -> None:
    sources = read_sources(RULES)
    sources["candidates.yaml"] = where(sources["candidates.yaml"])

    with pytest.raises(RuleSetInvalid) as invalid:
        in_thread(lambda: load_ruleset(sources))

    (error,) = invalid.value.errors
    assert (error.file, error.rule) == ("candidates.yaml", "-")
    assert "aliases expand this file" in error.message and error.line > 1


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("? [a, b]\n: 1\n", 1, 3, "a key must be a single word or number, not a list or mapping"),
        ("{[1]: 2}\n", 1, 2, "a key must be a single word or number, not a list or mapping"),
        ("x: 1\n? {a: 1}\n: 2\n", 2, 3, "a key must be a single word or number, not a list or mapping"),
        ("x: 2026-02-30\n", 1, 4, "cannot read '2026-02-30': day is out of range for month"),
        ("x:\n  - 2026-13-01\n", 2, 5, "cannot read '2026-13-01': month must be in 1..12"),
        ("a: &a [1, *a]\n", 1, 11, "the alias *a is inside the value it names, which would never end"),
        ("a: *nowhere\n", 1, 4, "the alias *nowhere names no anchor (&nowhere) written before it"),
        ("x: " + "[" * 60 + "]" * 60 + "\n", 1, 3 + DEPTH_MAX, f"lists and mappings nest more than {DEPTH_MAX} deep"),
        ("x: 1\nx: 2\n", 2, 1, "duplicate key 'x'"),
        ("x: 1\ny: [a, b\x00]\n", 2, 9, "unacceptable character #x0000: control characters are not allowed"),
        ("x: 1\ny: [a, \ud800]\n", 2, 8, "the text holds a character that is not Unicode text"),
        ("x: 0x" + "f" * 5000 + "\n", 1, 4, "the number 0xfff"),
        ("a: &a [1, &a [2], *a]\n", 1, 11, "the anchor &a is written twice; give each anchor a name of its own"),
    ],
)
def test_text_the_constructor_cannot_take_is_a_problem_at_its_place(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(YamlProblem) as problem:
        parse(text)

    assert (problem.value.line, problem.value.column) == (line, column)
    assert problem.value.message.startswith("YAML: " + message)


def test_the_shipped_rules_are_far_below_the_limits() -> None:
    sources = read_sources(RULES)

    assert len(sources) * 5 <= FILES_MAX and sum(map(len, sources.values())) * 10 <= SOURCES_MAX
    for name, text in sources.items():
        assert len(text) * 5 <= FILE_MAX, name
        sourcemap.check_size(text)  # well within VALUES_MAX and DEPTH_MAX
    load_ruleset(sources)


def test_an_ordinary_file_of_many_values_is_refused_as_too_large_not_as_aliases() -> None:
    text = "x: [" + ", ".join(["1"] * (VALUES_MAX + 1)) + "]\n"

    with pytest.raises(YamlProblem, match=f"this file holds more than {VALUES_MAX:,} values; split it"):
        parse(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: {**s, **{f"extra/f{i}.yaml": "rules: []\n" for i in range(FILES_MAX)}},
            f"may have at most {FILES_MAX:,}",
        ),
        (lambda s: {**s, "flags.yaml": "#" * (FILE_MAX + 1)}, f"a rule file may have at most {FILE_MAX:,}"),
        (
            lambda s: {**s, **{f"big{i}.yaml": "#" * FILE_MAX for i in range(SOURCES_MAX // FILE_MAX)}},
            f"they may have at most {SOURCES_MAX:,}",
        ),
    ],
)
def test_a_rule_set_beyond_its_limits_is_refused_before_any_file_is_parsed(
    change: Any, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = change(read_sources(RULES))
    monkeypatch.setattr("screening.engine.loader.parse", lambda text: pytest.fail("parsed"))

    with pytest.raises(RuleSetInvalid) as invalid:
        load_ruleset(sources)

    assert any(message in error.message for error in invalid.value.errors), invalid.value.errors


# --- Saving in the browser -----------------------------------------------------------------------------


@pytest.fixture()
def app(database_urls: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    """Return an app on the file-based SQLite database, with a copy of rules/ activated."""
    app = make_app(database_urls["sqlite"], RULES_DIR=str(copy_rules(tmp_path)))
    require_ruleset(app)
    yield app
    _empty_tables(app)
    engine_for(app).dispose()


def test_saving_an_alias_bomb_is_quick_and_says_why_and_never_makes_a_valid_draft(app: Flask, auth: Auth) -> None:
    auth.login_as("staff")
    draft_id = start(auth)
    text, started = open_file(auth, draft_id, "candidates.yaml")
    bomb = with_shared(text, alias_bomb())

    saved = in_thread(lambda: save(auth, draft_id, "candidates.yaml", bomb, started))

    page = text_of(follow(auth, saved))
    assert "Saved; 1 problem." in page
    assert "aliases expand this file to more than 20,000 values; write the values out or use fewer aliases" in page
    stored = stored_draft(app, draft_id)
    assert stored.sources["candidates.yaml"] == bomb  # kept, so no work is lost, and marked as not loading
    assert not checks.check_sources(dict(stored.sources), None).loads
    refused = auth.post(f"/rules/drafts/{draft_id}/submit")
    assert "cannot be published yet" in text_of(follow(auth, refused))


def test_a_save_beyond_the_size_limits_is_refused_and_not_stored(app: Flask, auth: Auth) -> None:
    auth.login_as("staff")
    draft_id = start(auth)
    text, started = open_file(auth, draft_id, "flags.yaml")

    refused = save(auth, draft_id, "flags.yaml", text + "#" + "x" * (FILE_MAX - len(text) + 10), started)

    assert refused.status_code == 422
    assert f"a rule file may have at most {FILE_MAX:,}" in text_of(refused)
    assert stored_draft(app, draft_id).sources["flags.yaml"] == text


def test_no_database_lock_is_held_while_saved_text_is_checked(
    app: Flask, auth: Auth, users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.login_as("staff")
    draft_id = start(auth)
    text, started = open_file(auth, draft_id, "flags.yaml")
    checking, go_on = threading.Event(), threading.Event()
    real_check = checks.check_sources

    def slow_check(*args: Any) -> checks.Check:
        checking.set()
        assert go_on.wait(QUICK)
        return real_check(*args)

    monkeypatch.setattr(drafts, "check_sources", slow_check)
    someone = users.create("staff").id
    saving = threading.Thread(target=lambda: save(auth, draft_id, "flags.yaml", text + "# later\n", started))
    saving.start()
    try:
        assert checking.wait(QUICK)
        other = sqlite3.connect(str(engine_for(app).url.database), timeout=1.0)
        try:  # another request's write, such as a patient's step save, while the check runs
            other.execute("UPDATE user_account SET email = email WHERE id = ?", (someone,))
            other.commit()
        finally:
            other.close()
    finally:
        go_on.set()
        saving.join(QUICK)
    assert stored_draft(app, draft_id).sources["flags.yaml"] == text + "# later\n"


# --- Any text gets a page, never a 500 -------------------------------------------------------------------

#: Pieces of YAML that rule files use, and some that they must not (keys that are lists, impossible dates).
FRAGMENTS = [
    "? [a, b]\n: 1\n",
    "{[1]: 2}\n",
    "x: 2026-02-30\n",
    "a: &a [*a]\n",
    "rules:",
    "shared:",
    "tests:",
    "- ",
    "  ",
    "\n",
    ": ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "<<: ",
    "!!set ",
    "!!binary ",
    "2026-02-30",
    "2026-13-01T25:61:00",
    "1e999",
    "0x" + "f" * 1200,
    "\ud800",
    "x",
    "'",
    '"',
    "|",
    "#",
    "²",
]
YAMLISH = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab01:-?[]{},&*!|>'\"#%@ \n\t.²é")), max_size=120),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
)
EXPRESSION = st.one_of(
    st.text(alphabet=st.sampled_from(list("phq9 trd<>=!/%*+-()[]'\"$.01 andornot")), min_size=1, max_size=40),
    st.sampled_from(["phq9 / 0 > 1", "phq9 % 0 > 1", "$nothing", "phq9 ** 99999 > 1", "trd and phq9 >= 1e999"]),
)


def _candidates() -> str:
    return read_sources(RULES)["candidates.yaml"]


@PROPERTY
@given(text=YAMLISH)
def test_check_sources_and_load_ruleset_never_raise_on_any_text(text: str) -> None:
    sources = {**read_sources(RULES), "candidates.yaml": text}

    check = checks.check_sources(sources, read_sources(RULES))

    assert check.loads or check.errors
    try:
        load_ruleset(sources)
    except RuleSetInvalid as invalid:
        assert invalid.errors


@PROPERTY
@given(expression=EXPRESSION)
def test_check_sources_never_raises_on_any_condition(expression: str) -> None:
    text = _candidates().replace("when: trd and phq9 >= 10", "when: " + _quoted(expression))

    check = checks.check_sources({**read_sources(RULES), "candidates.yaml": text}, None)

    assert check.loads or check.errors


def _quoted(expression: str) -> str:
    """Return ``expression`` as one YAML scalar."""
    return "'" + expression.replace("'", "''").replace("\n", " ") + "'"


@PROPERTY
@given(text=st.one_of(YAMLISH, EXPRESSION.map(lambda e: _candidates().replace("trd and phq9 >= 10", _quoted(e)))))
def test_saving_any_text_in_the_browser_gets_a_page_with_a_message(app: Flask, auth: Auth, text: str) -> None:
    if auth.client.get("/rules/").status_code != 200:
        auth.login_as("staff")
    draft_id = start(auth)
    _, started = open_file(auth, draft_id, "candidates.yaml")

    saved = save(auth, draft_id, "candidates.yaml", text, started)

    assert saved.status_code in (302, 409, 422), saved.status_code
    page = follow(auth, saved) if saved.status_code == 302 else saved
    assert page.status_code == 200 and ("Saved;" in text_of(page) or "problem" in text_of(page))


# --- Bad query values are a page or a 4xx, never a 500 ---------------------------------------------------

BAD_VALUES = ["²", "١", "-1", "0", "9" * 40, "%00", "x\x00", "MTIz", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OS4xLjE"]


@pytest.mark.parametrize(
    ("role", "path", "name"),
    [
        ("staff", "/rules/", "drafts"),
        ("staff", "/rules/diff", "left"),
        ("staff", "/rules/diff", "right"),
        ("staff", "/rules/dry-runs/{run}", "page"),
        ("physician", "/review/", "after"),
        ("physician", "/review/", "list"),
        ("physician", "/review/", "outcome"),
        ("admin", "/admin/audit", "before"),
        ("admin", "/admin/audit", "subject_id"),
        ("admin", "/admin/audit", "from"),
    ],
)
def test_bad_query_values_get_a_page_not_a_500(app: Flask, auth: Auth, role: str, path: str, name: str) -> None:
    auth.login_as(role)
    if "{run}" in path:
        path = path.format(run=_dry_run(app))

    for value in BAD_VALUES:
        response = auth.client.get(path, query_string={name: value})

        assert response.status_code in (200, 302, 400, 404, 422), (path, name, value, response.status_code)


def _dry_run(app: Flask) -> int:
    """Return the id of a dry run of the active version, as a worker left it."""
    with new_session(app) as session:
        current = store.active(session)
        assert current is not None
        run = BacktestRun(
            created_at=datetime.now(UTC),
            created_by="user:1",
            candidate_version=current.version.version,
            candidate_sources=dict(current.version.sources),
            against_version_id=current.version.id,
            status="running",
        )
        session.add(run)
        session.commit()
        return run.id


def test_the_cli_refuses_rule_files_beyond_the_limits(runner: Any, tmp_path: Path) -> None:
    (tmp_path / "cli").mkdir()
    rules = copy_rules(tmp_path / "cli")
    for number in range(FILES_MAX):
        (rules / f"extra-{number}.yaml").write_text("rules: []\n", encoding="utf-8")

    result = runner.invoke(args=["rules", "check", str(rules)])

    assert result.exit_code == 1
    assert f"the rule set has {FILES_MAX + 10:,} files; it may have at most {FILES_MAX:,}" in result.output


def test_a_file_beyond_the_rule_set_s_file_count_is_not_saved(app: Flask, users: Users) -> None:
    author = users.create("staff")
    full = {**read_sources(RULES), **{f"extra/f{i}.yaml": "rules: []\n" for i in range(FILES_MAX - 10)}}
    with new_session(app) as session:
        draft = drafts.start_draft(session, title="Many files", user=author, now=datetime.now(UTC), sources=full)
        session.commit()

        with pytest.raises(TuningInvalid) as refused:
            drafts.save_file(
                session,
                draft,
                name="one-more.yaml",
                text="rules: []",
                started_from=None,
                user=author,
                now=datetime.now(UTC),
            )

        assert refused.value.message == (
            f"one-more.yaml was not saved: the rule set has {FILES_MAX + 1} files; it may have at most {FILES_MAX}."
        )
        session.rollback()
        assert "one-more.yaml" not in session.get(RuleDraft, draft.id).sources
