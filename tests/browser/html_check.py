"""The Nu HTML checker over every page the browser tests load or check: saved as they go, validated all at once.

Two kinds of page are kept: each HTML document a browser context loads, as the server sent it, and each page as it
stands when a test checks it with axe (after its scripts ran).

The checker is a Java program (~1.5 s to start), so one run per test session (per xdist worker) checks every page.
``make install-test`` installs it (npm's vnu-jar); ``scripts/system-deps.sh`` installs Java when it is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Response

ROOT = Path(__file__).resolve().parent.parent.parent
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
INSTALL_HINT = "the Nu HTML checker needs `java` and node_modules/vnu-jar: run `make install-test`"


class HtmlChecker:
    """Keep pages in a folder under the names they were checked as, and validate them all in one run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[str, str] = {}

    def save(self, html: str, name: str) -> None:
        """Keep one page's HTML to validate later under ``name``."""
        path = self.folder / f"page-{len(self.names):04d}.html"
        path.write_text(html, encoding="utf-8")
        self.names[path.name] = name

    def keep_documents(self, context: BrowserContext, test: str) -> None:
        """Also keep every HTML page the context loads, as the server sent it, named after ``test`` and the path."""

        def keep(response: Response) -> None:
            request = response.request
            if request.resource_type != "document" or 300 <= response.status < 400:  # a redirect has no body to read
                return
            if not response.headers.get("content-type", "").startswith("text/html"):
                return
            try:
                html = response.text()
            except PlaywrightError:  # the test closed the page before the body arrived: nothing left to check
                return
            self.save(html, f"{test}: {request.method} {urlsplit(response.url).path} ({response.status})")

        context.on("response", keep)

    def errors(self) -> list[str]:
        """Validate every saved page in one run of the checker; return one line per error."""
        if not self.names:
            return []
        java = shutil.which("java")
        if java is None or not VNU_JAR.is_file():
            return [f"cannot validate {len(self.names)} pages: {INSTALL_HINT}"]
        command = [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json", "--stdout", str(self.folder)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode not in (0, 1):  # 1: the pages have errors; anything else: the checker failed
            return [f"the Nu HTML checker failed (exit {result.returncode}): {result.stderr.strip()}"]
        return describe(json.loads(result.stdout)["messages"], self.names)


def describe(messages: list[dict[str, Any]], names: dict[str, str]) -> list[str]:
    """Return each of the checker's messages as "page name, line N: message", in page order."""
    lines = []
    for message in sorted(messages, key=lambda m: (m.get("url", ""), m.get("lastLine", 0))):
        file_name = message.get("url", "").rpartition("/")[2]
        page = names.get(file_name, file_name or "(no page)")
        where = f", line {message['lastLine']}" if "lastLine" in message else ""
        extract = f" [{' '.join(message['extract'].split())}]" if message.get("extract") else ""
        lines.append(f"{page}{where}: {message['message']}{extract}")
    return lines
