"""The rule editor's error links and line numbers in a real browser.

With JavaScript, following a load error's link puts the caret at the start of that line of the text area, with the
line in view; the gutter keeps one number per line of the text, beside that line, while the text is edited and
scrolled; a line the server marked with an error keeps its mark, and its link, while lines above it are added, and
loses the mark once it is edited. Without JavaScript the link still leads to the numbered line beside the text.
"""

from __future__ import annotations

from typing import Any
from typing import Callable

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.accounts import Users
from tests.test_tuning_views import TYPO

from . import test_tuning_pages
from .conftest import AxeChecker
from .conftest import LiveServer
from .test_tuning_pages import saved_draft
from .test_tuning_pages import sign_in

pytestmark = pytest.mark.browser

#: The fixture of the app whose rules directory is a copy of rules/, with the files activated.
app = test_tuning_pages.app

NewContext = Callable[..., BrowserContext]
#: Comment lines put before the file's text, so that the line with the typo is well below the first screen.
PADDING = 40
ERROR_LINE = 7 + PADDING
LINE_HEIGHT_PX = 24  # 1rem at 16 px, line-height 1.5 (tuning.css)
PADDING_TOP_PX = 8  # .5rem

#: Where one line of the text area is on the screen, and which gutter number is at that height.
LINE_PLACE = """(area, number) => {
  const style = getComputedStyle(area);
  const height = parseFloat(style.lineHeight);
  const box = area.getBoundingClientRect();
  const first = box.top + parseFloat(style.borderTopWidth) + parseFloat(style.paddingTop);
  const top = first + (number - 1) * height - area.scrollTop;
  const middle = top + height / 2;
  const gutter = area.closest(".editor").querySelector(".editor-gutter");
  const clip = gutter.getBoundingClientRect();
  const beside = [...gutter.querySelectorAll("span")].find((span) => {
    const place = span.getBoundingClientRect();
    return place.top <= middle && middle < place.bottom && clip.top <= middle && middle < clip.bottom;
  });
  const visibleTop = Math.max(box.top, 0);
  return {
    top, bottom: top + height, boxTop: box.top, boxBottom: box.bottom, viewport: window.innerHeight,
    firstVisible: Math.max(1, Math.floor((visibleTop - first + area.scrollTop) / height) + 1),
    beside: beside ? beside.textContent.replace("!", "").trim() : null,
  };
}"""
CARET_LINE = "area => area.value.slice(0, area.selectionStart).split('\\n').length"
AT_LINE_START = "area => area.selectionStart === 0 || area.value[area.selectionStart - 1] === '\\n'"
TEXT_LINES = "area => area.value.split('\\n').length"
SCROLL_TO_END = "area => { area.scrollTop = area.scrollHeight; area.dispatchEvent(new Event('scroll')); }"


def with_typo_far_down(text: str) -> str:
    """Return the file with comment lines before it and the typo that makes line 7 of it fail to load."""
    return "".join(f"# note {n}\n" for n in range(1, PADDING + 1)) + text.replace(*TYPO)


def open_editor(page: Page, app: Flask, live_server: LiveServer, users: Users) -> Locator:
    """Sign in as staff and open the editor of a draft whose candidates.yaml has an error far down: its text area."""
    staff = users.create("staff")
    draft_id, _ = saved_draft(app, staff, "Error far down", with_typo_far_down)
    sign_in(page, live_server, users, staff, "/rules/")
    page.goto(live_server(f"/rules/drafts/{draft_id}/files/candidates.yaml"))
    return page.get_by_label("Text of candidates.yaml")


def place(area: Locator, number: int) -> dict[str, Any]:
    """Return where line ``number`` of the text area is, and the gutter number beside it."""
    return area.evaluate(LINE_PLACE, number)


def assert_in_view(area: Locator, number: int) -> None:
    """Check that line ``number`` is inside the text area's visible box and on the screen."""
    where = place(area, number)
    assert where["top"] >= max(where["boxTop"], 0), where
    assert where["bottom"] <= min(where["boxBottom"], where["viewport"]), where


def assert_numbers_match(area: Locator) -> None:
    """Check that the gutter has one number per line, and that the first visible, caret's and last lines have theirs."""
    lines = area.evaluate(TEXT_LINES)
    expect(area.page.locator(".editor-gutter span")).to_have_count(lines)
    for number in {place(area, 1)["firstVisible"], area.evaluate(CARET_LINE), lines}:
        assert place(area, number)["beside"] == str(number), (number, place(area, number))


def test_an_error_link_puts_the_caret_on_its_line_and_the_numbers_follow_the_text(
    page: Page, app: Flask, live_server: LiveServer, users: Users, axe: AxeChecker
) -> None:
    area = open_editor(page, app, live_server, users)
    link = page.locator("#file-errors a")
    expect(link).to_have_attribute("href", f"#line-{ERROR_LINE}")
    link.click()
    expect(area).to_be_focused()
    assert area.evaluate(CARET_LINE) == ERROR_LINE
    assert area.evaluate(AT_LINE_START)
    assert_in_view(area, ERROR_LINE)
    assert place(area, ERROR_LINE)["beside"] == str(ERROR_LINE)
    axe.check(page, "editor: after following an error link")

    page.keyboard.press("Control+Home")
    for _ in range(8):
        page.keyboard.press("Enter")
    assert area.evaluate(CARET_LINE) == 9
    assert_numbers_match(area)
    moved = ERROR_LINE + 8
    expect(page.locator(".editor-gutter .gutter-error")).to_have_text([f"!{moved:>4}"])  # the mark moves with its line
    link.click()
    assert area.evaluate(CARET_LINE) == moved
    assert_in_view(area, moved)
    page.keyboard.type("# ")
    expect(page.locator(".editor-gutter .gutter-error")).to_have_count(0)  # an edited line waits for the next check
    area.hover()
    page.mouse.wheel(0, 600)
    area.evaluate(SCROLL_TO_END)
    assert_numbers_match(area)
    page.keyboard.press("Control+End")
    for _ in range(5):
        page.keyboard.press("Enter")
    assert_numbers_match(area)
    axe.check(page, "editor: after typing and scrolling")
    assert not axe.found, axe.report()


def test_without_javascript_an_error_link_leads_to_the_numbered_line(
    new_context: NewContext, app: Flask, live_server: LiveServer, users: Users
) -> None:
    """axe runs scripts in the page, so it cannot check here; the page still goes to the Nu checker."""
    page = new_context(java_script_enabled=False).new_page()
    area = open_editor(page, app, live_server, users)
    page.locator("#file-errors a").click()
    assert page.url.endswith(f"#line-{ERROR_LINE}")
    number = page.locator(f"#line-{ERROR_LINE}")
    expect(number).to_be_in_viewport()
    expect(number).to_have_text(f"!{ERROR_LINE:>4}")
    expect(area).to_have_css("line-height", f"{LINE_HEIGHT_PX}px")
    expect(area).to_have_css("padding-top", f"{PADDING_TOP_PX}px")
    number_box, area_box = number.bounding_box(), area.bounding_box()
    assert number_box and area_box
    line_top = area_box["y"] + PADDING_TOP_PX + (ERROR_LINE - 1) * LINE_HEIGHT_PX
    assert line_top <= number_box["y"] + number_box["height"] / 2 < line_top + LINE_HEIGHT_PX
