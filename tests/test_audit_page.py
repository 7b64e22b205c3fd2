"""The admins' audit page and CSV export: filters, pages, CSV content, admins only, reading is audited, no writes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import audit
from screening.admin import audit_log
from screening.db import new_session

from .accounts import Auth
from .accounts import Users
from .patient import page
from .test_auth import audit_rows
from .test_auth import login_redirect

#: Long before the tests run, so the sign-in and viewing events of a test are always newer.
BASE = datetime(2020, 3, 2, 12, 0, tzinfo=UTC)
ROW_ACTION = re.compile(
    r'<tr data-event-id="\d+">\s*<th scope="row"><time[^>]*>[^<]*</time></th>\s*<td>[^<]*</td>\s*<td>([^<]+)</td>'
)
EVENT_IDS = re.compile(r'<tr data-event-id="(\d+)">')
OLDER = re.compile(r'<a href="([^"]+)" rel="next">Older events</a>')


def add_event(app: Flask, action: str, *, at: datetime, **fields: Any) -> int:
    """Record one audit event straight in the database and return its id."""
    values: dict[str, Any] = {"actor": "cli", "subject_type": "submission", "subject_id": None, **fields}
    with new_session(app) as session:
        event = audit.record(session, action=action, at=at, **values)
        session.commit()
        return event.id


@pytest.fixture()
def events(app: Flask, users: Users) -> dict[str, int]:
    """Add a small trail over four days; return the ids by a name."""
    doctor = users.create("physician", email="doc@clinic.test")
    return {
        "created": add_event(
            app, "submission.created", at=BASE, actor="patient", subject_id=7, remote_addr="203.0.113.5"
        ),
        "claimed": add_event(
            app, "review.claimed", at=BASE + timedelta(days=1), actor=f"user:{doctor.id}", subject_id=7
        ),
        "decided": add_event(
            app,
            "review.decided",
            at=BASE + timedelta(days=2),
            actor=f"user:{doctor.id}",
            subject_id=7,
            details={"decision": "consult", "note_for_patient": False},
        ),
        "other": add_event(app, "submission.created", at=BASE + timedelta(days=3), actor="patient", subject_id=8),
        "disabled": add_event(
            app, "user.disabled", at=BASE + timedelta(days=3, hours=1), subject_type="user", subject_id=doctor.id
        ),
        "doctor": doctor.id,
    }


def actions_on(client: FlaskClient, query: str = "") -> list[str]:
    """Return the actions of the rows the audit page shows, top to bottom."""
    response = client.get(f"/admin/audit{query}")
    assert response.status_code == 200, response.status_code
    return ROW_ACTION.findall(response.get_data(as_text=True))


# --- Who may read it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/audit", "/admin/audit.csv", "/admin/audit?action=review.*"])
def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, path: str) -> None:
    login_redirect(client.get(path), path)


@pytest.mark.parametrize("role", ["physician", "staff"])
@pytest.mark.parametrize("path", ["/admin/audit", "/admin/audit.csv"])
def test_other_roles_get_403_and_nothing_is_recorded(app: Flask, auth: Auth, role: str, path: str) -> None:
    auth.login_as(role)
    assert auth.client.get(path).status_code == 403
    assert not audit_rows(app, "audit.viewed") and not audit_rows(app, "audit.exported")


def test_no_route_can_change_the_audit_trail(app: Flask) -> None:
    audit_rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin/audit")]
    assert {rule.rule for rule in audit_rules} == {"/admin/audit", "/admin/audit.csv"}
    for rule in audit_rules:
        assert rule.methods is not None and rule.methods <= {"GET", "HEAD", "OPTIONS"}, (rule.rule, rule.methods)
    for rule in app.url_map.iter_rules():
        assert "audit" not in rule.rule or rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule  # type: ignore[operator]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writing_methods_are_refused(app: Flask, auth: Auth, events: dict[str, int], method: str) -> None:
    auth.login_as("admin")
    for path in (f"/admin/audit?id={events['created']}", "/admin/audit.csv"):
        response = getattr(auth.client, method)(path, data={"csrf_token": auth.csrf_token()})
        assert response.status_code == 405
    assert [row.id for row in audit_rows(app, "submission.created")] == [events["created"], events["other"]]


def test_the_pages_link_to_each_other(auth: Auth) -> None:
    auth.login_as("admin")
    assert 'href="/admin/audit"' in auth.client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' in auth.client.get("/admin/audit").get_data(as_text=True)


# --- The page ------------------------------------------------------------------------------------------


def test_newest_first_with_who_and_what(auth: Auth, events: dict[str, int]) -> None:
    auth.login_as("admin")
    html = auth.client.get("/admin/audit?subject_type=submission").get_data(as_text=True)
    assert ROW_ACTION.findall(html) == ["submission.created", "review.decided", "review.claimed", "submission.created"]
    assert f"user:{events['doctor']} (doc@clinic.test)" in html  # the admin sees who the user is
    assert "2020-03-02 12:00:00" in html and "203.0.113.5" in html
    assert "{&#34;decision&#34;: &#34;consult&#34;, &#34;note_for_patient&#34;: false}" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?action=review.decided", ["decided"]),
        ("?action=review.*", ["decided", "claimed"]),
        ("?action=review", []),
        ("?actor=patient", ["other", "created"]),
        ("?actor=doc@clinic.test", ["decided", "claimed"]),
        ("?actor=DOC@clinic.test&action=review.claimed", ["claimed"]),
        ("?subject_type=user&to=2020-12-31", ["disabled"]),
        ("?subject_type=submission&subject_id=7", ["decided", "claimed", "created"]),
        ("?from=2020-03-03&to=2020-03-04", ["decided", "claimed"]),
        ("?from=2020-03-05&to=2020-03-05", ["disabled", "other"]),
        ("?to=2020-03-02", ["created"]),
        ("?from=2020-03-02&to=2020-03-02&actor=patient", ["created"]),
    ],
)
def test_filters(app: Flask, auth: Auth, events: dict[str, int], query: str, expected: list[str]) -> None:
    auth.login_as("admin")
    response = auth.client.get(f"/admin/audit{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = [int(found) for found in re.findall(r"<td>(?:submission|user) (\d+)</td>", html)]
    assert len(ROW_ACTION.findall(html)) == len(expected) == len(shown)
    with new_session(app) as session:
        filters, errors = audit_log.parse_filters(session, dict(item.split("=") for item in query[1:].split("&")))
        found = audit_log.audit_page(session, filters).rows
    assert not errors
    assert [event.id for event in found] == [events[name] for name in expected]
    if not expected:
        assert page(response).text_of("no-events") == "No events match these filters."


def test_viewing_is_audited_with_the_filters(app: Flask, auth: Auth, events: dict[str, int]) -> None:
    admin = auth.login_as("admin")
    assert actions_on(auth.client, "?actor=doc@clinic.test&from=2020-03-03") == ["review.decided", "review.claimed"]
    (viewed,) = audit_rows(app, "audit.viewed")
    assert (viewed.actor, viewed.subject_type, viewed.remote_addr) == (f"user:{admin.id}", "audit_event", "127.0.0.1")
    assert viewed.details == {
        "filter_actor": f"user:{events['doctor']}",
        "filter_from": "2020-03-03",
        "rows": 2,
        "first_page": True,
    }
    assert "@" not in json.dumps(viewed.details)  # the email typed is recorded as the user's id
    assert actions_on(auth.client)[0] == "audit.viewed"  # the next view shows the previous one


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?from=24-11-2026", "from", "Enter a date as YYYY-MM-DD"),
        ("?to=2026-02-30", "to", "Enter a date as YYYY-MM-DD"),
        ("?from=2020-03-04&to=2020-03-03", "to", "The end date is before the start date."),
        ("?subject_id=seven", "subject_id", "Enter a whole number"),
        ("?subject_id=-1", "subject_id", "Enter a whole number"),
        ("?actor=nobody@clinic.test", "actor", "No user has this email address."),
        ("?action=" + "x" * 65, "action", "Enter at most 64 characters"),
    ],
)
def test_bad_filters_are_explained_beside_their_field(
    app: Flask, auth: Auth, events: dict[str, int], query: str, field: str, message: str
) -> None:
    auth.login_as("admin")
    for path in ("/admin/audit", "/admin/audit.csv"):
        response = auth.client.get(path + query)
        assert response.status_code == 422
        shown = page(response)
        assert message in (shown.field_errors().get(field) or ""), shown.field_errors()
        assert f'href="#{field}"' in shown.html
        assert not ROW_ACTION.findall(shown.html)
    assert not audit_rows(app, "audit.viewed") and not audit_rows(app, "audit.exported")


def test_pages_follow_the_older_link_without_gaps_or_repeats(app: Flask, auth: Auth) -> None:
    # Many events share a timestamp, so ties on "at" fall across page boundaries.
    ids = [add_event(app, "submission.created", at=BASE + timedelta(minutes=n % 4)) for n in range(123)]
    expected = [ids[n] for n in sorted(range(123), key=lambda n: (n % 4, n), reverse=True)]
    auth.login_as("admin")
    walked: list[int] = []
    url: str | None = "/admin/audit?action=submission.created"
    pages = 0
    while url is not None:
        html = auth.client.get(url).get_data(as_text=True)
        walked += [int(found) for found in EVENT_IDS.findall(html)]
        pages += 1
        found = OLDER.search(html)
        url = unescape(found.group(1)) if found else None
        if url is not None:
            assert "action=submission.created" in url and "before=" in url
        if pages > 1:
            assert 'href="/admin/audit?action=submission.created">Newest events</a>' in html
    assert pages == 3
    assert walked == expected
    first_page = [row.details["first_page"] for row in audit_rows(app, "audit.viewed")]
    assert first_page == [True, False, False]


def test_a_bad_page_link_shows_the_newest_events(auth: Auth, events: dict[str, int]) -> None:
    auth.login_as("admin")
    response = auth.client.get("/admin/audit?before=not-a-cursor!")
    assert response.status_code == 200
    assert "That page link was not valid" in response.get_data(as_text=True)
    assert ROW_ACTION.findall(response.get_data(as_text=True))[:2] == ["auth.signed_in", "user.disabled"]


# --- The CSV export --------------------------------------------------------------------------------------


def read_csv(response: Any) -> list[list[str]]:
    """Return the rows of a CSV response, header first."""
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_export_is_a_csv_attachment_of_the_filtered_rows(app: Flask, auth: Auth, events: dict[str, int]) -> None:
    admin = auth.login_as("admin")
    response = auth.client.get("/admin/audit.csv?action=review.*")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="audit-\d{8}T\d{6}Z\.csv"', disposition), disposition
    assert response.headers["Cache-Control"] == "no-store"
    header, *rows = read_csv(response)
    assert header == ["id", "at", "actor", "action", "subject_type", "subject_id", "remote_addr", "details"]
    doctor = f"user:{events['doctor']}"
    assert rows == [
        [str(events["decided"]), "2020-03-04T12:00:00+00:00", doctor, "review.decided", "submission", "7", "",
         '{"decision": "consult", "note_for_patient": false}'],
        [str(events["claimed"]), "2020-03-03T12:00:00+00:00", doctor, "review.claimed", "submission", "7", "", "{}"],
    ]  # fmt: skip
    (exported,) = audit_rows(app, "audit.exported")
    assert (exported.actor, exported.details) == (f"user:{admin.id}", {"filter_action": "review.*"})
    assert response.get_data(as_text=True).endswith("\r\n")


def test_the_export_holds_every_page_but_not_itself(app: Flask, auth: Auth) -> None:
    for n in range(130):
        add_event(app, "submission.created", at=BASE + timedelta(seconds=n), subject_id=n)
    auth.login_as("admin")
    auth.client.get("/admin/audit")  # an audit.viewed event, exported below
    _header, *rows = read_csv(auth.client.get("/admin/audit.csv"))
    actions = [row[3] for row in rows]
    assert actions.count("submission.created") == 130 and actions[0] == "audit.viewed"
    assert "audit.exported" not in actions
    assert [int(row[0]) for row in rows] == sorted((int(row[0]) for row in rows), reverse=True)
    assert [row[5] for row in rows if row[3] == "submission.created"] == [str(n) for n in range(129, -1, -1)]


def test_the_export_walks_in_batches(app: Flask) -> None:
    ids = [add_event(app, "submission.created", at=BASE + timedelta(seconds=n // 3)) for n in range(25)]
    with new_session(app) as session:
        exported = [event.id for event in audit_log.iter_events(session, audit_log.AuditFilters(), batch=4)]
        below = [event.id for event in audit_log.iter_events(session, audit_log.AuditFilters(), below_id=ids[10])]
    assert exported == sorted(ids, reverse=True)
    assert below == sorted(ids[:10], reverse=True)


def test_spreadsheet_formulas_are_made_inert(app: Flask) -> None:
    with new_session(app) as session:
        event = audit.record(
            session, actor="=HYPERLINK(1)", action="+x", subject_type="@user", subject_id=-3, at=BASE, remote_addr="-1"
        )
        session.flush()
        cells = audit_log.csv_row(event)
    assert cells[2:7] == ["'=HYPERLINK(1)", "'+x", "'@user", "'-3", "'-1"]
    assert cells[1] == "2020-03-02T12:00:00+00:00" and cells[7] == "{}"


#: Events with every awkward cell a trail can hold: quotes, commas, line breaks, non-ASCII text,
#: formula starts, empty and negative ids, microseconds. The export must stay byte for byte as below.
ODD_EVENTS: list[dict[str, Any]] = [
    {"action": "submission.created", "at": BASE, "actor": "patient", "subject_id": 7, "remote_addr": "203.0.113.5"},
    {"action": 'say "hi", then go', "at": BASE + timedelta(microseconds=123456), "actor": "user:1",
     "subject_type": "user", "subject_id": None, "remote_addr": "2001:db8::1",
     "details": {"z": "last", "a": 'quote " and, comma', "n": -4, "ok": True, "none": None}},
    {"action": "line\nbreak", "at": BASE + timedelta(hours=1), "actor": "crlf\r\nactor", "subject_type": "ç-type",
     "subject_id": -3, "details": {"text": "Zoë ☂ 🙂", "tab": "a\tb"}},
    {"action": "=SUM(A1)", "at": BASE + timedelta(days=1), "actor": "+cli", "subject_type": "@user",
     "subject_id": 0, "remote_addr": "-1", "details": {"=": "=1"}},
    {"action": "\tindented", "at": BASE + timedelta(days=1, seconds=1), "actor": "\rreturn",
     "subject_type": "submission", "subject_id": 2**31 - 1, "details": {}},
]  # fmt: skip
ODD_EXPECTED = (
    "id,at,actor,action,subject_type,subject_id,remote_addr,details\r\n"
    "{4},2020-03-03T12:00:01+00:00,\"'\rreturn\",'\tindented,submission,2147483647,,{{}}\r\n"
    '{3},2020-03-03T12:00:00+00:00,\'+cli,\'=SUM(A1),\'@user,0,\'-1,"{{""="": ""=1""}}"\r\n'
    '{2},2020-03-02T13:00:00+00:00,"crlf\r\nactor","line\nbreak",ç-type,\'-3,,'
    '"{{""tab"": ""a\\tb"", ""text"": ""Zo\\u00eb \\u2602 \\ud83d\\ude42""}}"\r\n'
    '{1},2020-03-02T12:00:00.123456+00:00,user:1,"say ""hi"", then go",user,,2001:db8::1,'
    '"{{""a"": ""quote \\"" and, comma"", ""n"": -4, ""none"": null, ""ok"": true, '
    '""z"": ""last""}}"\r\n'
    "{0},2020-03-02T12:00:00+00:00,patient,submission.created,submission,7,203.0.113.5,{{}}\r\n"
)


def test_the_export_is_byte_for_byte_the_expected_csv(app: Flask, auth: Auth) -> None:
    ids = [add_event(app, **fields) for fields in ODD_EVENTS]
    auth.login_as("admin")
    response = auth.client.get("/admin/audit.csv?to=2020-03-31")
    assert response.status_code == 200 and response.is_streamed
    assert response.get_data() == ODD_EXPECTED.format(*ids).encode("utf-8")
    (exported,) = audit_rows(app, "audit.exported")
    assert exported.details == {"filter_to": "2020-03-31"}


def test_an_empty_export_is_the_header_alone(app: Flask, auth: Auth) -> None:
    auth.login_as("admin")
    response = auth.client.get("/admin/audit.csv?action=nothing.matches")
    assert response.get_data() == b"id,at,actor,action,subject_type,subject_id,remote_addr,details\r\n"
