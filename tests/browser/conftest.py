"""Fixtures for the real-browser tests: Debian's Chromium, a live server per test, axe and the Nu HTML checker.

The live server wraps the ``app`` fixture, which here runs on one backend (``BROWSER_BACKENDS``): PostgreSQL when
the suite has a server, as production does.
One browser serves the whole session; each test gets fresh browser contexts.
"""

from __future__ import annotations

import threading
from typing import Any
from typing import Callable
from typing import Iterable
from typing import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from werkzeug.serving import make_server

from tests.conftest import BROWSER_BACKENDS
from tests.conftest import app_on

from .html_check import HtmlChecker

#: The WCAG 2.2 A and AA rules, as ../shared/toolchain.md runs them.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}


@pytest.fixture(params=BROWSER_BACKENDS)
def app(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> Iterator[Flask]:
    """Return an app on a migrated, empty database of the browser tests' backend."""
    with app_on(database_urls[request.param]) as app:
        yield app


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch the system Chromium; never a downloaded browser."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def buffered(app: Flask) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Wrap ``app`` so each response body is read, and its iterator closed, before the server writes it.

    The development server skips closing a response when the browser drops the connection mid-write (Chromium
    does so for a favicon it no longer wants), which leaves a static file open; the suite turns that warning into
    an error. Reading the body first closes every file on the app's side, whatever the connection does.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = app.wsgi_app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi


class LiveServer:
    """The app served over real HTTP on a free local port."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, buffered(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        app.config["PUBLIC_BASE_URL"] = self.url  # the links the app hands out (resume, status) lead back here
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
        )

    def __call__(self, path: str = "/") -> str:
        """Return the absolute address of ``path``."""
        return self.url + path

    def start(self) -> None:
        """Serve requests in a daemon thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


@pytest.fixture()
def live_server(app: Flask) -> Iterator[LiveServer]:
    """Serve the app of the backend under test for the duration of one test."""
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


#: Checks axe's WCAG rule set leaves out: ids are unique, and every id reference and in-page link
#: (the error summary's links to the fields) points at an element.
ID_CHECKS = """() => {
  const problems = [];
  const counts = new Map();
  for (const element of document.querySelectorAll("[id]")) counts.set(element.id, (counts.get(element.id) || 0) + 1);
  for (const [id, count] of counts) if (count > 1) problems.push(`id "${id}" is used ${count} times`);
  for (const attribute of ["for", "aria-describedby", "aria-labelledby", "aria-controls"]) {
    for (const element of document.querySelectorAll(`[${attribute}]`)) {
      for (const id of element.getAttribute(attribute).split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) problems.push(`${attribute}="${id}" names no element: ${element.outerHTML.slice(0, 120)}`);
      }
    }
  }
  for (const link of document.querySelectorAll('a[href^="#"]')) {
    const id = decodeURIComponent(link.getAttribute("href").slice(1));
    if (id && !document.getElementById(id)) problems.push(`link to #${id} has no target: ${link.textContent.trim().slice(0, 80)}`);
  }
  return problems;
}"""


class AxeChecker:
    """Run axe on pages and collect every violation, so one test reports them all at once.

    Each page checked is also kept for the Nu HTML checker, which validates them all at the end of the session.
    """

    def __init__(self, html: HtmlChecker, test: str) -> None:
        self.axe = Axe()
        self.html = html
        self.test = test
        self.found: dict[str, list[dict[str, Any]]] = {}
        self.checked: list[str] = []
        #: The address of each page checked, in order.
        self.urls: list[str] = []

    def check(self, page: Page, name: str) -> None:
        """Run the WCAG 2.2 AA rules on the page as it is now, keeping any violations under ``name``.

        A click on a link returns once the new address is committed, possibly before its stylesheet applies; axe
        then measures unstyled buttons, so the check waits for the page's load event first.
        """
        page.wait_for_load_state("load")
        self.html.save(page.content(), f"{self.test}: {name}")
        results = self.axe.run(page, options=AXE_OPTIONS)
        self.checked.append(name)
        self.urls.append(page.url)
        violations = list(results.response["violations"])
        id_problems = page.evaluate(ID_CHECKS)
        if id_problems:
            violations.append(
                {
                    "id": "id-references",
                    "impact": "serious",
                    "help": "Ids are unique and id references resolve",
                    "nodes": [{"target": [problem], "html": "", "failureSummary": ""} for problem in id_problems],
                }
            )
        if violations:
            self.found[name] = violations

    def report(self) -> str:
        """Return the violations as readable text: page, rule, impact, and each offending node."""
        lines = []
        for name, violations in self.found.items():
            lines.append(f"== {name}")
            for violation in violations:
                lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
                for node in violation["nodes"]:
                    lines.append(f"    at {node['target']}: {node['html'][:200]}")
                    summary = (node.get("failureSummary") or "").replace("\n", " / ")
                    lines.append(f"       {summary}")
        return "\n".join(lines)


@pytest.fixture(scope="session")
def html_checker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HtmlChecker]:
    """Collect the pages of the whole session (of this worker, under xdist); fail at its end on any HTML error."""
    checker = HtmlChecker(tmp_path_factory.mktemp("pages"))
    yield checker
    errors = checker.errors()
    if errors:
        pytest.fail(
            "The Nu HTML checker found errors in pages the browser tests loaded or checked:\n" + "\n".join(errors),
            pytrace=False,
        )


@pytest.fixture()
def axe(request: pytest.FixtureRequest, html_checker: HtmlChecker) -> AxeChecker:
    """Return a checker that collects axe violations page by page, and keeps each page for the HTML checker."""
    return AxeChecker(html_checker, request.node.nodeid)


#: Fail within seconds, not Playwright's default 30 s, when an element never appears.
ACTION_TIMEOUT_MS = 10_000


@pytest.fixture()
def context(context: BrowserContext, request: pytest.FixtureRequest, html_checker: HtmlChecker) -> BrowserContext:
    """Return pytest-playwright's context with a short action timeout; every page it loads is validated."""
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    html_checker.keep_documents(context, request.node.nodeid)
    return context


@pytest.fixture()
def new_context(
    new_context: Callable[..., BrowserContext], request: pytest.FixtureRequest, html_checker: HtmlChecker
) -> Callable[..., BrowserContext]:
    """Return pytest-playwright's context factory; its contexts have a short action timeout too, and are validated."""

    def factory(**kwargs: Any) -> BrowserContext:
        created = new_context(**kwargs)
        created.set_default_timeout(ACTION_TIMEOUT_MS)
        html_checker.keep_documents(created, request.node.nodeid)
        return created

    return factory
