"""Fixtures of the production-shaped stage: every process started once for the module, stopped by PID after it.

The stage needs the throwaway PostgreSQL server of ``scripts/with-postgres.sh`` (SCREENING_TEST_POSTGRES_URL),
and creates a database of its own on it; without that server (the quick SQLite loop) it is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import Response
from playwright.sync_api import expect
from sqlalchemy import orm

from screening.admin import service
from screening.queues import ALERT_CONSUMER
from screening.queues import WORK_CONSUMER
from tests.accounts import DEFAULT_PASSWORD
from tests.browser.conftest import browser_type_launch_args  # noqa: F401 - the system Chromium
from tests.browser.conftest import html_checker  # noqa: F401 - the Nu HTML checker over every page loaded
from tests.browser.conftest import new_context  # noqa: F401 - the contexts the stage opens
from tests.conftest import CLINIC_ENV
from tests.ruleset_files import copy_rules
from tests.test_alerts import SMTPServer

from . import stage as stages
from .stage import Process
from .stage import Stage

POSTGRES_URL = os.environ.get("SCREENING_TEST_POSTGRES_URL")
#: Set low, so a handful of attempts spread over both hosts shows that the count is shared.
LOGIN_RATE_LIMIT = "5 per minute"
ALERT_RECIPIENT = "oncall@clinic.example"
NewContext = Callable[..., BrowserContext]
#: Each request of the stage crosses nginx, gunicorn, PostgreSQL and Redis on a busy machine: wait a little longer
#: for an element or a page than the browser tests do, still bounded.
ACTION_TIMEOUT_MS = 20_000
EXPECT_TIMEOUT_MS = 15_000


@dataclass
class Host:
    """One gunicorn process standing for one host."""

    name: str
    port: int
    process: Process
    access_log: Path

    def workers(self) -> set[int]:
        """Return the ids of this host's worker processes."""
        return stages.children_of(self.process.pid)


@dataclass
class Deployment:
    """The running stage: where to reach it, its database, its mail, and every process's log."""

    stage: Stage
    port: int
    hosts: tuple[Host, Host]
    database_url: str
    engine: sa.Engine
    smtp: SMTPServer
    nginx_access_log: Path
    #: ``huey_consumer screening.tasks.alerts``: urgent alerts only.
    alert_consumer: Process
    #: ``huey_consumer screening.tasks.huey``: dry runs and other work.
    consumer: Process
    #: role -> (email, password) of the stage's clinic users.
    users: dict[str, tuple[str, str]]

    @property
    def base_url(self) -> str:
        """Return the https address of the site, as patients and physicians open it."""
        return f"https://127.0.0.1:{self.port}"

    def __call__(self, path: str = "/") -> str:
        """Return the absolute address of ``path``."""
        return self.base_url + path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Start nginx, two gunicorn hosts, Redis, both consumers and an SMTP sink on a database of the stage's own."""
    if not POSTGRES_URL:
        pytest.skip("the production stage needs PostgreSQL: run it through scripts/with-postgres.sh (make test)")
    folder = tmp_path_factory.mktemp("production")
    stage = Stage(folder)
    database = f"screening_production_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database_url = stages.create_database(POSTGRES_URL, database)
    engine = sa.create_engine(database_url)
    smtp = SMTPServer()
    smtp.start()
    prefix = stages.nginx_prefix()
    try:
        yield _start(stage, folder, prefix, database_url, engine, smtp)
    finally:
        stage.stop()
        smtp.stop()
        engine.dispose()
        stages.drop_database(POSTGRES_URL, database)
        stages.remove_folder(prefix)


def _start(
    stage: Stage, folder: Path, prefix: Path, database_url: str, engine: sa.Engine, smtp: SMTPServer
) -> Deployment:
    """Start every process, each as soon as what it needs is up; return the running stage."""
    port, redis_port = stages.free_port(), stages.free_port()
    env = stages.production_env(_settings(database_url, f"https://127.0.0.1:{port}", redis_port, smtp.port))
    (folder / "redis").mkdir()
    redis = stage.start(
        "redis",
        [str(stages.REDIS), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder / "redis"), "--daemonize", "no"],
        env,
    )
    # Once, before the hosts start, as the README says.
    stage.run("init-db", [str(stages.BIN / "flask"), "--app", "screening", "init-db"], env)
    stage.wait_until("Redis accepts connections", lambda: stages.listening(redis_port), redis)

    hosts = tuple(_start_host(stage, number, env) for number in (1, 2))
    consumer_env = {**env, "SCREENING_RULES_DIR": str(folder / "host-1" / "rules")}
    alert_consumer = stage.start(
        "alert-consumer", [str(stages.BIN / "huey_consumer"), ALERT_CONSUMER, "--workers", "2"], consumer_env
    )
    consumer = stage.start(
        "consumer", [str(stages.BIN / "huey_consumer"), WORK_CONSUMER, "--workers", "2"], consumer_env
    )
    nginx_access_log = folder / "nginx.access.log"
    nginx = _start_nginx(stage, prefix, port, (hosts[0].port, hosts[1].port), nginx_access_log, env)
    stage.files += [nginx_access_log, folder / "nginx.error.log", *(host.access_log for host in hosts)]
    users = _create_users(engine)  # while the hosts boot
    for host in hosts:
        stage.wait_until(
            f"{host.name} serves the welcome page",
            lambda host=host: stages.request(host.port, "GET", "/", tls=False).status == 200,  # type: ignore[misc]
            host.process,
        )
    for each in (alert_consumer, consumer):
        stage.wait_until(
            f"{each.name} starts",
            lambda each=each: "Huey consumer started" in each.tail(),  # type: ignore[misc]
            each,
        )
    stage.wait_until("nginx serves the site over https", lambda: stages.request(port, "GET", "/").status == 200, nginx)
    return Deployment(
        stage, port, (hosts[0], hosts[1]), database_url, engine, smtp, nginx_access_log, alert_consumer, consumer, users
    )


def _settings(database_url: str, base_url: str, redis_port: int, smtp_port: int) -> dict[str, str]:
    """Return the settings every host and the consumer share, as the README's production section lists them."""
    return {
        "SCREENING_ENVIRONMENT": "production",
        "SCREENING_SECRET_KEY": stages.secret_key(),
        **CLINIC_ENV,
        "SCREENING_DATABASE_URL": database_url,
        "SCREENING_PROXY_COUNT": "1",
        "SCREENING_PUBLIC_BASE_URL": base_url,
        "SCREENING_TRUSTED_HOSTS": '["127.0.0.1"]',
        "SCREENING_HUEY_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SCREENING_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}/1",
        "SCREENING_LOGIN_RATE_LIMIT": LOGIN_RATE_LIMIT,
        "SCREENING_SMTP_HOST": "127.0.0.1",
        "SCREENING_SMTP_PORT": str(smtp_port),
        "SCREENING_SMTP_FROM": "screening@clinic.example",
        "SCREENING_ALERT_RECIPIENTS": f'["{ALERT_RECIPIENT}"]',
    }


def _create_users(engine: sa.Engine) -> dict[str, tuple[str, str]]:
    """Create one physician, one staff member and one admin through the app's own service; return role -> login."""
    logins = {role: (f"{role}@clinic.test", DEFAULT_PASSWORD) for role in ("physician", "staff", "admin")}
    with orm.Session(engine) as session:
        for role, (email, password) in logins.items():
            service.create_user(
                session, email=email, role=role, password=password, actor="system", at=datetime.now(UTC)
            )
        session.commit()
    return logins


def _start_host(stage: Stage, number: int, env: dict[str, str]) -> Host:
    """Start ``gunicorn -w 2 wsgi:app`` from the repository root, as one host, with its access log on."""
    port = stages.free_port()
    # Each host has a disk of its own: publishing writes the new files into the approving host's rules/.
    rules = copy_rules(stage.folder / f"host-{number}")
    access_log = stage.folder / f"gunicorn-{number}.access.log"
    process = stage.start(
        f"gunicorn-{number}",
        [str(stages.BIN / "gunicorn"), "-w", "2", "--bind", f"127.0.0.1:{port}", "--access-logfile", str(access_log)]
        # Two "hosts" on one machine would share gunicorn's control socket (~/.gunicorn/): neither gets one.
        + ["--no-control-socket", "wsgi:app"],
        {**env, "SCREENING_RULES_DIR": str(rules)},
    )
    return Host(f"host {number}", port, process, access_log)


def _start_nginx(
    stage: Stage, prefix: Path, port: int, upstreams: tuple[int, int], access_log: Path, env: dict[str, str]
) -> Process:
    """Start nginx with the README's server block, a certificate made now, and the two hosts upstream."""
    certificate, key = stages.make_certificate(stage.folder)
    error_log = stage.folder / "nginx.error.log"
    config = stage.folder / "nginx.conf"
    config.write_text(
        stages.nginx_config(
            prefix,
            port=port,
            upstreams=upstreams,
            certificate=certificate,
            key=key,
            access_log=access_log,
            error_log=error_log,
        )
    )
    return stage.start("nginx", [str(stages.NGINX), "-p", str(prefix), "-e", str(error_log), "-c", str(config)], env)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Accept the stage's self-signed certificate."""
    return {**browser_context_args, "ignore_https_errors": True}


class Browsing:
    """Browser contexts on the stage, each recording every response it gets from the site."""

    def __init__(self, factory: NewContext, deployment: Deployment) -> None:
        self.new_context = factory
        self.deployment = deployment
        self.contexts: list[BrowserContext] = []
        self.responses: list[Response] = []

    def page(self) -> Page:
        """Return a page in a new browser context (a person of their own)."""
        context = self.new_context()
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.on("response", self._record)
        self.contexts.append(context)
        return context.new_page()

    def _record(self, response: Response) -> None:
        """Keep responses from the site; their headers are read once the test is done."""
        if response.url.startswith(self.deployment.base_url):
            self.responses.append(response)

    def assert_hardened(self) -> None:
        """Check every response carried HSTS and no version banner, and every cookie is Secure and HttpOnly."""
        assert self.responses, "no response from the site was recorded"
        for response in self.responses:
            headers = response.all_headers()
            assert "max-age=" in headers.get("strict-transport-security", ""), (response.url, headers)
            assert not any(character.isdigit() for character in headers.get("server", "")), (response.url, headers)
        cookies = [cookie for context in self.contexts for cookie in context.cookies()]
        assert cookies, "no cookie was set"
        for cookie in cookies:
            assert cookie.get("secure") is True, cookie
            assert cookie.get("httpOnly") is True, cookie


@pytest.fixture(scope="module", autouse=True)
def stage_expect_timeout() -> Iterator[None]:
    """Let ``expect`` wait up to EXPECT_TIMEOUT_MS in this stage; restore Playwright's default (None) afterwards."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=None)


@pytest.fixture()
def browsing(new_context: NewContext, deployment: Deployment) -> Browsing:  # noqa: F811 - the imported fixture
    """Return a factory of pages on the stage that records every response."""
    return Browsing(new_context, deployment)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Add every process's log to the report of a failed test of the stage."""
    report: pytest.TestReport = yield
    deployment = getattr(item, "funcargs", {}).get("deployment")
    if report.failed and isinstance(deployment, Deployment):
        report.sections.append(("production stage logs", deployment.stage.report()))
    return report
