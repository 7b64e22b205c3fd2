"""The review queue: order, filters, counts and keyset pagination."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy import orm

from screening.db import new_session
from screening.models import Alert
from screening.review import service
from screening.review.errors import ReviewInvalid
from screening.review.queue import decode_cursor
from screening.review.queue import encode_cursor
from screening.review.queue import queue_page

from .test_review_service import NOTE
from .test_review_service import NOW
from .test_review_service import OUTCOMES
from .test_review_service import add_submission
from .test_review_service import add_user


@pytest.fixture()
def db(app: Flask) -> Iterator[orm.Session]:
    """Return a session on the test database."""
    with new_session(app) as session:
        yield session


def references(page: service.QueuePage) -> list[str]:
    """Return the references of a page's rows, in order."""
    return [row.reference for row in page.rows]


def test_safety_first_then_oldest_then_by_id(db: orm.Session) -> None:
    same_time = NOW - timedelta(hours=5)
    candidate_new = add_submission(db, "candidate", submitted_at=NOW - timedelta(hours=1))
    manual = add_submission(db, "manual_review", submitted_at=NOW - timedelta(days=9))
    safety_new = add_submission(db, "safety", submitted_at=NOW - timedelta(minutes=3))
    tie_first = add_submission(db, "candidate", submitted_at=same_time)
    tie_second = add_submission(db, "candidate", submitted_at=same_time)
    hold = add_submission(db, "contraindication_review", submitted_at=NOW - timedelta(days=2))
    safety_old = add_submission(db, "safety", submitted_at=NOW - timedelta(hours=2))
    add_submission(db, "counseling", submitted_at=NOW - timedelta(days=30))
    page = queue_page(db)
    expected = [safety_old, safety_new, hold, tie_first, tie_second, candidate_new, manual]
    assert references(page) == [submission.reference for submission in expected]
    assert [row.priority for row in page.rows] == [1, 1, 2, 3, 3, 3, 4]
    assert not page.has_more and page.next_cursor is None
    assert page.rows[0].waiting(NOW) == timedelta(hours=2)


def test_needing_no_action_is_listed_apart(db: orm.Session) -> None:
    not_candidate = add_submission(db, "not_candidate", submitted_at=NOW - timedelta(days=3))
    counseling = add_submission(db, "counseling", submitted_at=NOW - timedelta(days=1))
    candidate = add_submission(db, "candidate")
    assert references(queue_page(db)) == [candidate.reference]
    assert references(queue_page(db, needs_action=False)) == [counseling.reference, not_candidate.reference]
    assert all(not row.needs_action for row in queue_page(db, needs_action=False).rows)


def test_status_filter_and_decided_submissions(db: orm.Session) -> None:
    ada = add_user(db, "ada@clinic.example")
    open_one = add_submission(db, "candidate", submitted_at=NOW - timedelta(hours=3))
    claimed = add_submission(db, "candidate", submitted_at=NOW - timedelta(hours=2))
    decided = add_submission(db, "candidate", submitted_at=NOW - timedelta(hours=1))
    service.claim(db, claimed.id, ada, NOW)
    service.decide(db, decided.id, ada, "consult", NOTE, False, NOW)
    assert references(queue_page(db)) == [open_one.reference, claimed.reference]
    assert references(queue_page(db, status="open")) == [open_one.reference]
    assert references(queue_page(db, status="claimed")) == [claimed.reference]
    assert references(queue_page(db, status="decided")) == [decided.reference]
    service.reopen(db, decided.id, ada, NOW)
    assert references(queue_page(db)) == [open_one.reference, claimed.reference, decided.reference]


def test_outcome_and_assignee_filters(db: orm.Session) -> None:
    ada, ben = add_user(db, "ada@clinic.example"), add_user(db, "ben@clinic.example")
    safety = add_submission(db, "safety")
    hold = add_submission(db, "contraindication_review")
    candidate = add_submission(db, "candidate")
    service.claim(db, safety.id, ada, NOW)
    service.claim(db, candidate.id, ben, NOW)
    assert references(queue_page(db, outcome="contraindication_review")) == [hold.reference]
    assert references(queue_page(db, outcome="counseling")) == []
    assert references(queue_page(db, assignee_id=ada.id)) == [safety.reference]
    assert references(queue_page(db, assignee_id=ben.id, outcome="candidate")) == [candidate.reference]
    assert references(queue_page(db, assignee_id=ben.id, outcome="safety")) == []


def test_rows_carry_what_the_list_shows(db: orm.Session) -> None:
    ada = add_user(db, "ada@clinic.example")
    failed = add_submission(db, "safety", submitted_at=NOW - timedelta(hours=2))
    sent = add_submission(db, "safety", submitted_at=NOW - timedelta(hours=1))
    db.add_all(
        [
            Alert(submission_id=failed.id, created_at=NOW, status="failed", attempts=5),
            Alert(submission_id=failed.id, created_at=NOW, status="sent", attempts=1),
            Alert(submission_id=sent.id, created_at=NOW, status="sent", attempts=1),
        ]
    )
    service.claim(db, failed.id, ada, NOW)
    first, second = queue_page(db).rows
    assert (first.reference, first.outcome, first.status, first.assignee_id) == (
        failed.reference,
        "safety",
        "claimed",
        ada.id,
    )
    assert (first.assignee_email, first.safety_flag, first.alert_failed) == ("ada@clinic.example", True, True)
    assert (second.assignee_email, second.alert_failed, second.submitted_at) == (None, False, sent.submitted_at)


def test_outcome_counts_of_open_work(db: orm.Session) -> None:
    ada = add_user(db, "ada@clinic.example")
    for outcome, count in [("safety", 2), ("candidate", 3), ("counseling", 1), ("not_candidate", 4)]:
        for _ in range(count):
            add_submission(db, outcome)
    decided = add_submission(db, "candidate")
    service.decide(db, decided.id, ada, "consult", NOTE, False, NOW)
    claimed = add_submission(db, "manual_review")
    service.claim(db, claimed.id, ada, NOW)
    expected = {"safety": 2, "candidate": 3, "manual_review": 1, "counseling": 1, "not_candidate": 4}
    assert service.outcome_counts(db) == expected
    assert service.outcome_counts(db, needs_action=True) == {"safety": 2, "candidate": 3, "manual_review": 1}
    assert service.outcome_counts(db, needs_action=False) == {"counseling": 1, "not_candidate": 4}


def test_keyset_pages_have_no_duplicates_and_no_gaps(db: orm.Session) -> None:
    rng = random.Random(7)
    # Few distinct times, so many rows tie on (priority, submitted_at) across page boundaries.
    times = [NOW - timedelta(hours=hours) for hours in (1, 2, 3, 50)]
    needing_action = [name for name, (_, needs) in OUTCOMES.items() if needs]
    for _ in range(120):
        add_submission(db, rng.choice(needing_action), submitted_at=rng.choice(times))
    whole = queue_page(db, limit=200).rows
    assert len(whole) == 120
    assert [(row.priority, row.submitted_at, row.id) for row in whole] == sorted(
        (row.priority, row.submitted_at, row.id) for row in whole
    )
    walked, cursor, pages = [], None, 0
    while True:
        page = queue_page(db, after=cursor, limit=7)
        walked.extend(page.rows)
        pages += 1
        if not page.has_more:
            break
        assert len(page.rows) == 7
        cursor = page.next_cursor
    assert [row.id for row in walked] == [row.id for row in whole]
    assert pages == 18  # 17 full pages of 7, then 1 row


def test_pagination_within_a_filter(db: orm.Session) -> None:
    for hours in range(30):
        add_submission(db, "candidate", submitted_at=NOW - timedelta(hours=hours))
        add_submission(db, "safety", submitted_at=NOW - timedelta(hours=hours))
    first = queue_page(db, outcome="candidate", limit=20)
    second = queue_page(db, outcome="candidate", limit=20, after=first.next_cursor)
    rows = first.rows + second.rows
    assert len(rows) == 30 and {row.outcome for row in rows} == {"candidate"}
    assert len({row.id for row in rows}) == 30 and not second.has_more


def test_limit_is_kept_within_bounds(db: orm.Session) -> None:
    for _ in range(3):
        add_submission(db)
    assert len(queue_page(db, limit=0).rows) == 1
    assert len(queue_page(db, limit=10_000).rows) == 3


def test_cursor_round_trip() -> None:
    when = NOW - timedelta(days=40, microseconds=17)
    cursor = encode_cursor(3, when, 123456)
    assert decode_cursor(cursor) == (3, when, 123456)
    assert cursor.isascii() and "=" not in cursor


@pytest.mark.parametrize("cursor", ["nonsense!", "Zm9v", encode_cursor(1, NOW, 1)[:-3] + "???", "MS4y"])
def test_a_bad_cursor_is_refused(db: orm.Session, cursor: str) -> None:
    with pytest.raises(ReviewInvalid, match="page link is not valid"):
        queue_page(db, after=cursor)


def test_an_unknown_status_filter_is_refused(db: orm.Session) -> None:
    with pytest.raises(ReviewInvalid, match="Unknown status filter"):
        queue_page(db, status="archived")
