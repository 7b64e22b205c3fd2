"""An open safety case's page leads with what to do now: the instruction and the claim, then the callback details.

The phone-sized layout is checked in a browser (``browser/test_safety_first_view.py``); here the order of the page
while it is open and once claimed (held by a colleague: ``test_review_views``), and that a case that is not urgent keeps its claim among the actions.
"""

from __future__ import annotations

from sqlalchemy import orm

from .accounts import Auth
from .test_review_service import add_submission
from .test_review_views import act
from .test_review_views import db  # noqa: F401  (fixture)
from .test_review_views import text

INSTRUCTION = 'id="safety-instruction"'


def positions(page: str, *needles: str) -> list[int]:
    """Return where each needle first occurs in the page (-1 when it does not)."""
    return [page.find(needle) for needle in needles]


def test_an_open_safety_case_leads_with_the_instruction_and_the_claim(
    auth: Auth,
    db: orm.Session,  # noqa: F811
) -> None:
    submission = add_submission(db, "safety")
    db.commit()
    auth.login_as("physician")
    page = text(auth.client.get(f"/review/submissions/{submission.id}"))
    order = positions(page, "<h1>", INSTRUCTION, ">Claim</button>", 'id="contact-heading"', 'id="actions-heading"')
    assert -1 not in order and order == sorted(order), order
    assert "claim it and contact the patient now, then record the safety follow-up." in page
    assert page.count(">Claim</button>") == 1

    page = act(auth, submission, "claim")
    order = positions(page, INSTRUCTION, ">Release</button>", 'id="contact-heading"', "Record the safety follow-up")
    assert -1 not in order and order == sorted(order), order
    assert "Risk of self-harm:</strong>\n  contact the patient now, then" in page


def test_a_decided_safety_case_and_a_routine_case_keep_the_claim_among_the_actions(
    auth: Auth,
    db: orm.Session,  # noqa: F811
) -> None:
    routine = add_submission(db, "candidate")
    decided = add_submission(db, "safety", status="decided")
    db.commit()
    auth.login_as("physician")
    page = text(auth.client.get(f"/review/submissions/{routine.id}"))
    assert INSTRUCTION not in page
    order = positions(page, 'id="actions-heading"', ">Claim</button>", "Record a decision", 'id="contact-heading"')
    assert -1 not in order and order == sorted(order), order
    page = text(auth.client.get(f"/review/submissions/{decided.id}"))
    assert INSTRUCTION not in page and ">Reopen</button>" in page
