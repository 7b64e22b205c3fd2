"""The app deployed as README "Production" says, driven over https by Chromium and by plain requests.

nginx terminates TLS in front of two gunicorn hosts sharing PostgreSQL and Redis; a huey consumer of its own sends
the urgent alerts to an SMTP sink, another runs the dry runs. All tests share one stage (module-scoped fixtures); with ``pytest -n ... --dist
loadgroup`` (``make test``) they all run on one worker (tests/production/scheduling.py).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from screening.instruments import PHQ9
from screening.models import Alert
from screening.models import PatientMessage
from screening.models import RulesWorker
from screening.models import Submission
from tests.browser.wizard import answer_steps
from tests.browser.wizard import fill_step
from tests.browser.wizard import path_of
from tests.browser.wizard import press_next
from tests.browser.wizard import send_answers
from tests.patient import CONTACT_DETAILS
from tests.patient import Answers
from tests.patient import DEFAULT_ANSWERS
from tests.patient import STEP_ORDER
from tests.test_alerts import ANSWERS
from tests.test_alerts import body_of

from . import stage as stages
from .conftest import ALERT_RECIPIENT
from .conftest import LOGIN_RATE_LIMIT
from .conftest import Browsing
from .conftest import Deployment
from .conftest import Host

pytestmark = [pytest.mark.production, pytest.mark.browser]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN_LINK = re.compile(r"/(?:status|resume)/([A-Za-z0-9_-]{16,})")
#: The edit a staff member makes in the browser: the TRD rule's description only.
DESCRIPTION = ("with PHQ-9 of 10 or more.\n    when", "with a PHQ-9 total of 10 or more.\n    when")
SWITCH_SECONDS = 30.0


# --- Steps a person takes in the browser ------------------------------------------------------------


def sign_in(page: Page, deployment: Deployment, role: str, lands_on: str) -> None:
    """Sign in through the sign-in page as the stage's user of ``role``."""
    email, password = deployment.users[role]
    page.goto(deployment("/login"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(deployment(lands_on))


def finish_steps(page: Page, start: str, overrides: Mapping[str, Answers] | None = None) -> None:
    """Answer the steps from ``start`` on with the defaults (or ``overrides``), ending on the review page."""
    order = list(STEP_ORDER)
    for position in range(order.index(start), len(order)):
        following = order[position + 1] if position + 1 < len(order) else "review"
        fill_step(page, order[position], (overrides or {}).get(order[position]))
        press_next(page, following)


# --- Reading what the stage wrote ---------------------------------------------------------------------


def wait_for(what: str, ready: Callable[[], bool], deployment: Deployment, seconds: float = SWITCH_SECONDS) -> None:
    """Wait until ``ready()`` is true; fail with every log of the stage when it never is, or a process exits."""
    deployment.stage.wait_until(what, ready, *deployment.stage.processes, seconds=seconds)


def assert_logs_hold_no_token(deployment: Deployment, tokens: list[str], path: str) -> None:
    """Check that nginx and a host logged a ``path`` request redacted, and that no log of the stage holds a token."""
    assert tokens
    redacted = f"{path}[redacted]"
    wait_for(f"nginx logs a {path} request", lambda: redacted in deployment.nginx_access_log.read_text(), deployment)
    assert any(redacted in host.access_log.read_text() for host in deployment.hosts), "no host logged the request"
    logs = {*deployment.stage.files, *(process.log for process in deployment.stage.processes)}
    for log in sorted(logs):
        text = log.read_text(errors="replace") if log.exists() else ""
        for token in tokens:
            assert token not in text, f"{log.name} holds a link token: " + next(
                line for line in text.splitlines() if token in line
            )


def submission(deployment: Deployment, reference: str) -> Submission:
    """Return the stored submission with ``reference``."""
    with sa.orm.Session(deployment.engine) as session:
        return session.scalars(sa.select(Submission).where(Submission.reference == reference)).one()


def alert_status(deployment: Deployment, submission_id: int) -> str:
    """Return the status of the one alert about a submission."""
    with sa.orm.Session(deployment.engine) as session:
        return session.scalars(sa.select(Alert.status).where(Alert.submission_id == submission_id)).one()


def message_statuses(deployment: Deployment, submission_id: int) -> list[str]:
    """Return the status of each message to the patient about a submission."""
    with sa.orm.Session(deployment.engine) as session:
        query = sa.select(PatientMessage.status).where(PatientMessage.submission_id == submission_id)
        return list(session.scalars(query.order_by(PatientMessage.id)))


# --- The journeys -----------------------------------------------------------------------------------


def test_a_safety_answer_shows_crisis_help_and_the_consumer_emails_the_alert_through_redis(
    browsing: Browsing, deployment: Deployment
) -> None:
    page = browsing.page()
    item9 = PHQ9.items[8]
    answer_steps(page, deployment.base_url, until="mood")
    fill_step(page, "mood", {**DEFAULT_ANSWERS["mood"], item9.key: "1"})
    press_next(page, "support")
    crisis = page.get_by_role("main").get_by_role("region").first
    expect(crisis).to_contain_text("988")
    page.get_by_role("link", name="Continue the form").click()
    expect(page).to_have_url(path_of("anxiety"))
    finish_steps(page, "anxiety")
    reference = send_answers(page)
    expect(page.get_by_role("region", name=re.compile("Help is available"))).to_contain_text("988")

    status_url = page.locator("#status-link").get_attribute("href") or ""
    assert status_url.startswith(deployment("/status/")), status_url
    page.goto(status_url)
    expect(page.get_by_text(reference)).to_be_visible()

    deployment.stage.wait_until(
        "the alert e-mail arrives", lambda: bool(deployment.smtp.messages), deployment.alert_consumer, seconds=30
    )
    [received] = deployment.smtp.messages
    body = body_of(received)
    assert received.rcpt_tos == [ALERT_RECIPIENT]
    assert reference in received.message["Subject"] and reference in body
    stored = submission(deployment, reference)
    assert deployment(f"/review/submissions/{stored.id}") in body, body
    for word in ANSWERS:
        assert word.lower() not in (body + received.message["Subject"]).lower(), word
    # The alert consumer took the task from Redis and ran it: the web hosts only queued it, on the alert queue.
    assert "Executing screening.alerts.send_alert" in deployment.alert_consumer.tail(), deployment.alert_consumer.tail()
    assert "screening.alerts.send_alert" not in deployment.consumer.log.read_text(), deployment.consumer.tail()
    wait_for("the alert is recorded as sent", lambda: alert_status(deployment, stored.id) == "sent", deployment)

    assert_logs_hold_no_token(deployment, TOKEN_LINK.findall(status_url), "/status/")
    browsing.assert_hardened()


def test_a_candidate_resumes_on_another_device_and_a_physician_claims_and_decides(
    browsing: Browsing, deployment: Deployment
) -> None:
    patient = browsing.page()
    answer_steps(patient, deployment.base_url, until="symptoms")
    patient.get_by_text("Continue later on this or another device").click()
    resume_url = patient.locator(".resume-link").first.get_attribute("href") or ""
    assert resume_url.startswith(deployment("/resume/")), resume_url

    other = browsing.page()
    other.goto(resume_url)
    expect(other).to_have_url(path_of("symptoms"))
    finish_steps(other, "symptoms", {"contact": CONTACT_DETAILS})  # an e-mail, and consent to be contacted
    reference = send_answers(other)
    message = other.locator(".outcome-message")
    expect(message).to_contain_text("A physician will review your answers")
    candidate = submission(deployment, reference)
    assert candidate.outcome == "candidate" and candidate.scores["phq9"] >= 10, candidate.scores

    physician = browsing.page()
    sign_in(physician, deployment, "physician", "/review/")
    physician.get_by_role("link", name=reference).click()
    expect(physician.get_by_role("heading", level=1)).to_contain_text(reference)
    physician.get_by_role("button", name="Claim").click()
    expect(physician.get_by_role("status")).to_have_text("You have claimed this submission.")
    physician.get_by_role("group", name="Decision").get_by_label("Invite to a consultation").check()
    physician.get_by_label("Note (required)").fill("Invite to a consultation.")
    physician.get_by_role("button", name="Record the decision").click()
    expect(physician.get_by_role("status")).to_contain_text("Decision recorded: Invite to a consultation.")
    assert submission(deployment, reference).status == "decided"

    # The invitation reaches the patient: queued by the web host, sent by the work consumer through Redis.
    address = CONTACT_DETAILS["email"]
    deployment.stage.wait_until(
        "the invitation arrives",
        lambda: any(address in received.rcpt_tos for received in deployment.smtp.messages),
        deployment.consumer,
        seconds=30,
    )
    [invitation] = [received for received in deployment.smtp.messages if address in received.rcpt_tos]
    body = body_of(invitation)
    assert reference in invitation.message["Subject"] and reference in body
    for word in ANSWERS:
        assert word.lower() not in (body + invitation.message["Subject"]).lower(), word
    assert "send_patient_message" in deployment.consumer.log.read_text(), deployment.consumer.tail()
    # The consumer records the message as sent just after it leaves.
    wait_for(
        "the invitation is recorded as sent", lambda: message_statuses(deployment, candidate.id) == ["sent"], deployment
    )
    physician.reload()
    expect(physician.get_by_role("region", name="Messages to the patient", exact=True)).to_contain_text("Sent ")
    for log in sorted({*deployment.stage.files, *(process.log for process in deployment.stage.processes)}):
        assert address not in (log.read_text(errors="replace") if log.exists() else ""), f"{log.name} holds the address"

    assert_logs_hold_no_token(deployment, TOKEN_LINK.findall(resume_url), "/resume/")
    browsing.assert_hardened()


def test_a_published_rule_change_switches_both_hosts(browsing: Browsing, deployment: Deployment) -> None:
    staff = browsing.page()
    sign_in(staff, deployment, "staff", "/rules/")
    staff.get_by_label("Title of the draft").fill("Say PHQ-9 total in the TRD description")
    staff.get_by_role("button", name="Start a draft").click()
    expect(staff).to_have_url(re.compile(r"/rules/drafts/\d+$"))
    draft_url = staff.url
    staff.get_by_role("link", name="candidates.yaml").click()
    editor = staff.get_by_label("Text of candidates.yaml")
    text = editor.input_value()
    assert DESCRIPTION[0] in text
    editor.fill(text.replace(*DESCRIPTION))
    staff.get_by_role("button", name="Save", exact=True).click()
    expect(staff.get_by_role("status")).to_contain_text("Saved; the draft loads and all")
    staff.get_by_role("link", name=re.compile("^Back to draft")).click()
    staff.get_by_role("button", name="Submit for approval").click()
    expect(staff.get_by_role("status")).to_contain_text("Submitted")

    approver = browsing.page()
    sign_in(approver, deployment, "physician", "/review/")
    approver.goto(draft_url)
    approver.get_by_role("button", name="Approve and publish").click()
    published = approver.get_by_role("status")
    expect(published).to_contain_text("Published version sha256:")
    version = re.search(r"sha256:[0-9a-f]{64}", published.inner_text())
    assert version, published.inner_text()

    # Each worker switches at its next request and reports the version it decides with: ask each host directly,
    # with the approver's session (any host accepts it: they share the secret key, no sticky sessions).
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in approver.context.cookies())
    wait_for(
        "every worker of both hosts decides with the published version",
        lambda: all(decides_with(host, cookie, deployment, version.group(0)) for host in deployment.hosts),
        deployment,
    )
    browsing.assert_hardened()


def decides_with(host: Host, cookie: str, deployment: Deployment, version: str) -> bool:
    """Open the review queue on ``host`` (four at once, so both workers serve); True when both report ``version``."""
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(
                lambda _: stages.request(host.port, "GET", "/review/", tls=False, headers={"Cookie": cookie}), range(4)
            )
        )
    assert all(reply.status == 200 for reply in replies), [reply.status for reply in replies]
    workers = host.workers()
    with sa.orm.Session(deployment.engine) as session:
        rows = session.scalars(sa.select(RulesWorker)).all()
    versions = {int(row.name.split(":")[1]): row.version for row in rows if int(row.name.split(":")[1]) in workers}
    return len(versions) == len(workers) == 2 and set(versions.values()) == {version}


def test_an_admin_downloads_the_audit_trail_as_csv(browsing: Browsing, deployment: Deployment) -> None:
    admin = browsing.page()
    sign_in(admin, deployment, "admin", "/admin/users")
    admin.goto(deployment("/admin/audit"))
    with admin.expect_download() as download:
        admin.get_by_role("link", name="Download these events as CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert any(row["action"] == "auth.signed_in" for row in rows), rows[:5]
    browsing.assert_hardened()


# --- Two hosts, one count -------------------------------------------------------------------------------


def test_the_sign_in_limit_counts_across_both_hosts_and_says_when_to_retry(deployment: Deployment) -> None:
    # From an address of its own, so the browser's sign-ins in the other tests are not counted with these.
    source = "127.0.0.2"
    form = stages.request(deployment.port, "GET", "/login", source=source)
    cookie = form.headers["Set-Cookie"].split(";", 1)[0]
    token = CSRF.search(form.body)
    assert token, form.body
    allowed = int(LOGIN_RATE_LIMIT.split()[0])
    before = [host.access_log.read_text().count("POST /login") for host in deployment.hosts]
    statuses, retry_after = [], None
    for attempt in range(allowed + 1):
        reply = stages.request(
            deployment.port,
            "POST",
            "/login",
            source=source,
            headers={
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": deployment.base_url,
                "Referer": deployment("/login"),
                # A client naming other addresses changes nothing: nginx sets the one the hosts read.
                "X-Forwarded-For": f"198.51.100.{attempt}",
            },
            body=urlencode({"email": "nobody@clinic.test", "password": "not the password", "csrf_token": token[1]}),
        )
        statuses.append(reply.status)
        retry_after = reply.headers.get("Retry-After")
    assert statuses == [422] * allowed + [429], statuses
    assert retry_after is not None and int(retry_after) > 0, retry_after
    assert "Too many requests" in reply.body

    def seen() -> list[int]:
        """Return how many of the attempts each host has logged."""
        logged = [host.access_log.read_text().count("POST /login") for host in deployment.hosts]
        return [now - then for now, then in zip(logged, before, strict=True)]

    wait_for("the hosts log every attempt", lambda: sum(seen()) == allowed + 1, deployment)
    # nginx spread the attempts over both hosts: neither saw enough of them to refuse on a count of its own.
    assert all(1 <= each <= allowed for each in seen()), seen()


def test_the_site_refuses_other_host_names_and_shows_no_version(deployment: Deployment) -> None:
    wrong = stages.request(deployment.port, "GET", "/", headers={"Host": "evil.example"})
    assert wrong.status == 400, wrong.status
    right = stages.request(deployment.port, "GET", "/")
    assert right.status == 200
    assert right.headers["Server"] == "nginx", right.headers["Server"]
    assert "max-age=" in right.headers["Strict-Transport-Security"]
