"""The physicians' pages through the test client: the queue, the detail page, the actions and who may use them."""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import orm
from werkzeug.test import TestResponse

from screening.answers import example_document
from screening.db import new_session
from screening.decisions import apply_to_submission
from screening.decisions import decide
from screening.instruments import GAD7
from screening.instruments import PHQ9
from screening.instruments import score_answers
from screening.patient.intake.steps import FORM_VERSION
from screening.models import Alert
from screening.models import AuditEvent
from screening.models import Submission
from screening.models import User
from screening.review import service
from screening.review.queue import DEFAULT_LIMIT
from screening.active_rules import require_ruleset
from screening.engine.model import RuleSet

from .accounts import Auth
from .accounts import Users
from .test_review_service import add_submission
from .test_review_service import add_user

XSS = ("<img src=x onerror=alert(1)>", '"><script>alert(1)</script>')
REFERENCE_LINK = re.compile(r'class="reference-link">([^<]+)</a>')
_codes = itertools.count(1)

#: Answers documents that the default rules decide as the key says.
SAFETY = {"phq9": [2, 2, 3, 2, 1, 2, 2, 1, 2]}
CONTRAINDICATION = {"medical_history": ["psychosis"]}
COUNSELING = {"medication_trials": [], "gad7": [0] * 7}


def now() -> datetime:
    """Return the current time: the views measure waiting times against the real clock."""
    return datetime.now(UTC)


def document(**changes: Any) -> dict[str, Any]:
    """Return the example answers document with ``changes``: a candidate unless they say otherwise."""
    return {**example_document(), **changes}


def store_case(
    session: orm.Session,
    ruleset: RuleSet,
    answers: dict[str, Any] | None = None,
    *,
    waited: timedelta = timedelta(hours=1),
    reference: str | None = None,
) -> Submission:
    """Store a submission of ``answers`` scored and decided by the real rules, as the intake would."""
    answers = answers or document()
    scores = score_answers(answers).as_dict()
    submission = Submission(
        reference=reference or f"VW{next(_codes):02d}-{'ABCDEFGH'[next(_codes) % 8]}XYZ",
        submitted_at=now() - waited,
        form_version=FORM_VERSION,
        answers=answers,
        scores=scores,
        safety_flag=bool(scores["phq9_item9"]),
    )
    session.add(submission)
    session.flush()
    decision = decide(submission, ruleset, now=submission.submitted_at)
    session.add(decision)
    apply_to_submission(submission, decision)
    session.flush()
    return submission


def text(response: TestResponse) -> str:
    """Return the page's HTML with entities decoded, to look for what a reader sees."""
    return html.unescape(response.get_data(as_text=True))


def references(response: TestResponse) -> list[str]:
    """Return the reference codes of the queue's rows, in page order."""
    return REFERENCE_LINK.findall(response.get_data(as_text=True))


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


@pytest.fixture()
def ruleset(app: Flask) -> RuleSet:
    """Return the active default rule set."""
    return require_ruleset(app)


@pytest.fixture()
def doctor(auth: Auth) -> User:
    """Sign the client in as a physician."""
    return auth.login_as("physician")


def second_physician(app: Flask, users: Users) -> tuple[FlaskClient, Auth, User]:
    """Return another browser signed in as another physician."""
    other = Auth(app.test_client(), users)
    return other.client, other, other.login_as("physician")


# --- Who may use the pages ------------------------------------------------------------------------


PAGES = ["/review/", "/review/?list=none", "/review/submissions/{id}"]
ACTIONS = ["claim", "release", "take-over", "decide", "reopen"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, db: orm.Session, path: str) -> None:
    submission = add_submission(db)
    db.commit()
    response = client.get(path.format(id=submission.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/review/")


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_posts_change_nothing(client: FlaskClient, auth: Auth, db: orm.Session, action: str) -> None:
    submission = add_submission(db)
    db.commit()
    response = auth.post(f"/review/submissions/{submission.id}/{action}", {"decision": "consult", "note": "x"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert db.scalars(sa.select(AuditEvent.action)).all() == []


@pytest.mark.parametrize("role", ["staff", "admin"])
@pytest.mark.parametrize("path", PAGES)
def test_other_roles_are_refused_the_pages(auth: Auth, db: orm.Session, role: str, path: str) -> None:
    submission = add_submission(db)
    db.commit()
    auth.login_as(role)
    assert auth.client.get(path.format(id=submission.id)).status_code == 403


@pytest.mark.parametrize("role", ["staff", "admin"])
@pytest.mark.parametrize("action", ACTIONS)
def test_other_roles_cannot_act(auth: Auth, db: orm.Session, role: str, action: str) -> None:
    submission = add_submission(db)
    db.commit()
    auth.login_as(role)
    response = auth.post(f"/review/submissions/{submission.id}/{action}", {"decision": "consult", "note": "x"})
    assert response.status_code == 403
    db.expire_all()
    assert db.get_one(Submission, submission.id).status == "open"


def test_a_physician_lands_on_the_queue_after_signing_in(auth: Auth, users: Users) -> None:
    physician = users.create("physician")
    response = auth.login(physician.email, users.password_of(physician))
    assert response.headers["Location"] == "/review/"


@pytest.mark.parametrize("action", ACTIONS)
def test_a_post_without_csrf_token_is_refused(client: FlaskClient, db: orm.Session, doctor: User, action: str) -> None:
    submission = add_submission(db)
    db.commit()
    response = client.post(f"/review/submissions/{submission.id}/{action}", data={"decision": "consult", "note": "x"})
    assert response.status_code == 400
    assert "This form has expired" in text(response)
    db.expire_all()
    assert db.get_one(Submission, submission.id).status == "open"


# --- The queue --------------------------------------------------------------------------------------


def test_the_queue_lists_safety_first_then_by_priority_then_oldest(
    client: FlaskClient, db: orm.Session, ruleset: RuleSet, doctor: User
) -> None:
    store_case(db, ruleset, document(), waited=timedelta(days=3), reference="CAND-OLD1")
    store_case(db, ruleset, document(), waited=timedelta(hours=2), reference="CAND-NEW1")
    store_case(db, ruleset, document(**CONTRAINDICATION), waited=timedelta(hours=5), reference="CONT-RA01")
    store_case(db, ruleset, document(**SAFETY), waited=timedelta(minutes=20), reference="SAFE-TY01")
    store_case(db, ruleset, document(**COUNSELING), reference="COUN-SEL1")
    db.commit()

    response = client.get("/review/")
    assert response.status_code == 200
    assert references(response) == ["SAFE-TY01", "CONT-RA01", "CAND-OLD1", "CAND-NEW1"]
    page = text(response)
    assert "Safety follow-up" in page and "Physician review (contraindication)" in page
    for waited in (">20 min<", ">5 h<", ">2 h<", ">3 d<"):
        assert waited in page
    assert 'class="is-safety"' in response.get_data(as_text=True)
    assert ">Safety</span>" in page  # named in words, not only coloured

    none_needed = client.get("/review/?list=none")
    assert references(none_needed) == ["COUN-SEL1"]
    assert "Counseling note" in text(none_needed)


def test_counts_per_outcome_and_per_list(client: FlaskClient, db: orm.Session, doctor: User) -> None:
    for outcome, number in {"safety": 2, "candidate": 3, "not_candidate": 1}.items():
        for _ in range(number):
            add_submission(db, outcome)
    add_submission(db, "candidate", status="decided", assignee=db.get(User, doctor.id))
    db.commit()
    page = text(client.get("/review/"))
    assert "Needs action (5 open)" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert re.search(r">Safety follow-up</a>: <strong>2</strong>", page)
    assert re.search(r">Candidate for physician review</a>: <strong>3</strong>", page)
    assert "No action needed (1 open)" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def test_filters_by_outcome_status_and_assignee(
    app: Flask, client: FlaskClient, db: orm.Session, doctor: User, users: Users
) -> None:
    me = db.get_one(User, doctor.id)
    other = add_user(db, "other@clinic.test")
    safety = add_submission(db, "safety")
    mine = add_submission(db, "candidate", status="claimed", assignee=me)
    theirs = add_submission(db, "candidate", status="claimed", assignee=other)
    decided = add_submission(db, "contraindication_review", status="decided", assignee=me)
    db.commit()

    def listed(query: str) -> set[str]:
        response = client.get("/review/" + query)
        assert response.status_code == 200, query
        return set(references(response))

    assert listed("") == {safety.reference, mine.reference, theirs.reference}
    assert listed("?outcome=candidate") == {mine.reference, theirs.reference}
    assert listed("?status=claimed") == {mine.reference, theirs.reference}
    assert listed("?status=decided") == {decided.reference}
    assert listed("?assignee=me") == {mine.reference}
    assert listed("?assignee=me&status=decided") == {decided.reference}
    assert listed("?assignee=unassigned") == {safety.reference}
    assert listed("?assignee=unassigned&status=claimed") == set()
    assert listed("?outcome=candidate&assignee=anyone&status=") == {mine.reference, theirs.reference}
    page = client.get("/review/?outcome=candidate&assignee=me").get_data(as_text=True)
    assert '<option value="candidate" selected>' in page and '<option value="me" selected>' in page
    assert "Clear filters" in page


@pytest.mark.parametrize(
    "query", ["?status=lost", "?outcome=<script>", "?assignee=everyone", "?list=all", "?after=not-a-cursor"]
)
def test_unknown_filters_and_bad_page_links_are_explained(client: FlaskClient, doctor: User, query: str) -> None:
    response = client.get("/review/" + query)
    assert response.status_code == 302
    assert response.headers["Location"] == "/review/"
    page = text(client.get("/review/"))
    assert "Not done:" in page and ("left out" in page or "page link is not valid" in page)


def test_pagination_follows_the_next_page_link(client: FlaskClient, db: orm.Session, doctor: User) -> None:
    start = now() - timedelta(days=10)
    made = [
        add_submission(db, "candidate", submitted_at=start + timedelta(minutes=i)) for i in range(DEFAULT_LIMIT + 5)
    ]
    db.commit()
    first = client.get("/review/?outcome=candidate")
    assert references(first) == [s.reference for s in made[:DEFAULT_LIMIT]]
    found = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first.get_data(as_text=True))
    assert found is not None
    link = html.unescape(found.group(1))
    assert "outcome=candidate" in link and "after=" in link
    second = client.get(link)
    assert references(second) == [s.reference for s in made[DEFAULT_LIMIT:]]
    assert "Next page" not in text(second) and "First page" in text(second)


def test_a_failed_alert_is_marked_in_the_queue(app: Flask, client: FlaskClient, db: orm.Session, doctor: User) -> None:
    app.config.update(ALERT_RECIPIENTS=["oncall@clinic.example"])  # configured, so a failure is a real failure
    failed = add_submission(db, "safety")
    sent = add_submission(db, "safety")
    db.add(Alert(submission_id=failed.id, created_at=now(), status="failed", attempts=5))
    db.add(Alert(submission_id=sent.id, created_at=now(), status="sent", attempts=1, sent_at=now()))
    db.commit()
    rows = client.get("/review/").get_data(as_text=True).split("<tr")
    row_of = {reference: row for row in rows for reference in REFERENCE_LINK.findall(row)}
    assert "Alert failed" in row_of[failed.reference]
    assert "Alert failed" not in row_of[sent.reference]


# --- The detail page --------------------------------------------------------------------------------


def test_the_detail_shows_the_trace_scores_answers_and_trials(
    app: Flask, client: FlaskClient, db: orm.Session, ruleset: RuleSet, doctor: User
) -> None:
    app.config.update(ALERT_RECIPIENTS=["oncall@clinic.example"])  # configured, so the failed alert reads as failed
    trials = [
        *example_document()["medication_trials"],
        {
            "drug": "amitriptyline",
            "dose_mg_per_day": 25,
            "weeks": 3,
            "improvement_pct": 0,
            "current_episode": True,
            "stopped_early": False,
        },
    ]
    submission = store_case(db, ruleset, document(**SAFETY, **CONTRAINDICATION, medication_trials=trials))
    db.add(Alert(submission_id=submission.id, created_at=now(), status="failed", attempts=5))
    db.commit()
    decision = service.submission_detail(db, submission.id).decision
    assert decision is not None

    response = client.get(f"/review/submissions/{submission.id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    assert submission.reference in page
    assert submission.submitted_at.strftime("%Y-%m-%d %H:%M UTC") in page
    assert "Safety follow-up" in page and "Alert failed" in page
    for fired in decision.fired:  # every rule that fired, why, and the facts it read
        assert fired["rule"] in page and fired["description"] in page
    assert "<code>phq9_item9</code></dt><dd>2</dd>" in page
    assert "<code>contraindications</code></dt><dd>psychosis</dd>" in page
    assert decision.message in page  # what the patient read
    for note in decision.notes:
        assert note["text"] in page
    assert "PHQ-9 (depression)</th>\n        <td>17 of 27</td>\n        <td>Moderately severe</td>" in page
    assert '<meter min="0" max="27" value="17"' in page
    for heading in ("Your age", PHQ9.title, GAD7.title, "Treatments you have tried", "Medical history"):
        assert f">{heading}</h3>" in page
    assert PHQ9.items[8].text in page and "More than half the days" in page
    assert "Sertraline (Zoloft)" in page and "Amitriptyline (Elavil)" in page
    assert "An adequate trial that failed" in page
    assert "dose below the minimum of 150 mg/day; shorter than 6 weeks" in page
    assert "Adequate failed antidepressant trials: <strong>2</strong>" in page
    assert "<li>Psychosis, schizophrenia or hearing or seeing things others do not</li>" in page
    assert decision.ruleset_version is not None and decision.ruleset_version in page
    assert decision.engine_version in page and FORM_VERSION in page
    assert "Record the safety follow-up" in page  # offered for a safety case only


def test_opening_a_submission_is_audited(client: FlaskClient, db: orm.Session, doctor: User) -> None:
    submission = add_submission(db)
    db.commit()
    client.get(f"/review/submissions/{submission.id}")
    event = db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "submission.viewed")).one()
    assert (event.actor, event.subject_type, event.subject_id) == (f"user:{doctor.id}", "submission", submission.id)
    assert event.remote_addr == "127.0.0.1"


def test_a_submission_without_readable_answers_still_opens(client: FlaskClient, db: orm.Session, doctor: User) -> None:
    submission = add_submission(db, "manual_review")  # no answers, no scores, no automated decision
    db.commit()
    response = client.get(f"/review/submissions/{submission.id}")
    assert response.status_code == 200
    page = text(response)
    assert "cannot be shown question by question" in page and "No automated decision was recorded" in page
    assert "Record the safety follow-up" not in page


def test_an_unknown_submission_is_not_found(client: FlaskClient, doctor: User) -> None:
    response = client.get("/review/submissions/999999")
    assert response.status_code == 404
    assert "We could not find this submission" in text(response)


# --- Actions ----------------------------------------------------------------------------------------


def act(auth: Auth, submission: Submission, action: str, **data: str) -> str:
    """Post an action, follow the redirect to the detail page and return that page's text."""
    response = auth.post(f"/review/submissions/{submission.id}/{action}", data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/submissions/{submission.id}"
    return text(auth.client.get(response.headers["Location"]))


def test_claim_release_decide_and_reopen(auth: Auth, db: orm.Session, doctor: User) -> None:
    submission = add_submission(db, "candidate")
    db.commit()

    page = act(auth, submission, "claim")
    assert "You have claimed this submission." in page and 'role="status"' in page
    assert "Release" in page and "Record the decision" in page
    page = act(auth, submission, "release")
    assert "it is back in the open queue" in page and ">Claim</button>" in page
    page = act(auth, submission, "decide", decision="consult", note="Invite.\nCall first.", note_for_patient="y")
    assert "Decision recorded: Invite to a consultation." in page
    assert "Invite.\nCall first." in page and "Shown to the patient." in page
    assert ">Reopen</button>" in page and "Record the decision" not in page
    db.expire_all()
    assert db.get_one(Submission, submission.id).status == "decided"
    assert submission.reference not in references(auth.client.get("/review/"))
    page = act(auth, submission, "reopen", note="New information arrived.")
    assert "open again" in page and "New information arrived." in page
    assert submission.reference in references(auth.client.get("/review/"))
    actions = db.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action.like("review.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["review.claimed", "review.released", "review.claimed", "review.decided", "review.reopened"]


def test_taking_over_a_case_claimed_by_someone_else(app: Flask, auth: Auth, db: orm.Session, users: Users) -> None:
    submission = add_submission(db, "safety")
    db.commit()
    other_client, other, colleague = second_physician(app, users)
    act(other, submission, "claim")
    auth.login_as("physician")

    page = text(auth.client.get(f"/review/submissions/{submission.id}"))
    assert f"{colleague.email} has claimed this submission" in page and "Record the decision" not in page
    # A safety case: the instruction and the take-over lead the page.
    assert f"make sure {colleague.email} is contacting the patient now, or take it over" in page
    assert (
        page.index(">Take over</button>") < page.index('id="actions-heading"') < page.index("take it over at the top")
    )
    page = act(auth, submission, "decide", decision="consult", note="Mine now?")
    assert "Not done:" in page and service.CLAIMED_BY_OTHER in page and 'role="alert"' in page
    page = act(auth, submission, "claim")
    assert service.CLAIMED_BY_OTHER in page
    page = act(auth, submission, "release")
    assert "only they can release it" in page
    page = act(auth, submission, "take-over")
    assert "You have taken over this submission." in page
    page = act(other, submission, "decide", decision="consult", note="Too late")
    assert service.CLAIMED_BY_OTHER in page


def test_invalid_transitions_get_a_clear_message(auth: Auth, db: orm.Session, doctor: User) -> None:
    submission = add_submission(db, "candidate")
    db.commit()
    page = act(auth, submission, "decide", decision="decline", note="   ")
    assert "Give the reason for declining in the note." in page
    page = act(auth, submission, "decide", decision="", note="x")
    assert "Choose a decision" in page
    page = act(auth, submission, "decide", decision="safety_followup_done", note="x")
    assert "applies only to submissions with a safety flag" in page
    page = act(auth, submission, "decide", decision="request_info", note="What dose?")
    assert "Decision recorded: Ask the patient for more information." in page
    page = act(auth, submission, "decide", decision="consult", note="Again")
    assert service.ALREADY_DECIDED in page
    page = act(auth, submission, "claim")
    assert service.ALREADY_DECIDED in page
    act(auth, submission, "reopen")
    page = act(auth, submission, "reopen")
    assert "Only a decided submission can be reopened." in page
    page = act(auth, submission, "release")
    assert "nothing to release" in page
    page = act(auth, submission, "decide", decision="consult", note="x" * 2001)
    assert "please keep it to 2000" in page


def test_an_action_on_an_unknown_submission_returns_to_the_queue(auth: Auth, doctor: User) -> None:
    response = auth.post("/review/submissions/999999/claim")
    assert response.status_code == 302 and response.headers["Location"] == "/review/"
    assert "There is no submission with this number." in text(auth.client.get("/review/"))


def test_free_text_is_escaped_on_the_physician_pages(
    auth: Auth, db: orm.Session, ruleset: RuleSet, doctor: User
) -> None:
    trial = {**example_document()["medication_trials"][0], "drug": XSS[0]}
    submission = store_case(db, ruleset, document(medication_trials=[trial]))
    db.commit()
    act(auth, submission, "decide", decision="consult", note=XSS[1])
    page = auth.client.get(f"/review/submissions/{submission.id}").get_data(as_text=True)
    for payload in XSS:
        assert payload not in page
        assert str(escape(payload)) in page
    assert "<script>alert" not in page and "<img src=x" not in page


def test_a_safety_decision_whose_rules_raised_says_safety_was_decided_regardless(
    client: FlaskClient, db: orm.Session, doctor: User
) -> None:
    from screening.engine.loader import load_ruleset

    sources = dict(require_ruleset(client.application).sources)
    sources["raises.yaml"] = (
        "rules:\n  - id: raises\n    description: Raises for everybody.\n"
        "    when: 'diagnoses[99] == \"x\"'\n    outcome: candidate\n"
    )
    submission = store_case(db, load_ruleset(sources), document(**SAFETY))
    db.commit()
    page = text(client.get(f"/review/submissions/{submission.id}"))
    assert (submission.outcome, submission.priority) == ("safety", 1)
    assert "the engine decided the safety follow-up regardless" in page
    assert "rule raises (raises.yaml:4:11) raised LookupError" in page
    assert "needs a manual review" not in page
